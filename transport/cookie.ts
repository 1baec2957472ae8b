// The cluster cookie: a shared secret every node of a cluster must know (as Erlang's).
// Taken from the option, else ACTORCLUSTER_COOKIE, else ~/.actorcluster.cookie (created once).
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ActorError } from '../actors/errors.ts';

export function cookiePath(): string {
  return join(homedir(), '.actorcluster.cookie');
}

export function resolveCookie(option: string | undefined): string {
  const cookie = option ?? process.env.ACTORCLUSTER_COOKIE ?? readOrCreateCookieFile();
  if (typeof cookie !== 'string' || cookie.length < 8) {
    throw new ActorError(
      'invalid_argument',
      'the cookie must be a string of at least 8 characters',
    );
  }
  return cookie;
}

function readOrCreateCookieFile(): string {
  const path = cookiePath();
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    const cookie = randomBytes(24).toString('base64url');
    writeFileSync(path, `${cookie}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
    return cookie;
  }
}
