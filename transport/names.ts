// Node names: `name@host:port`. The short name (before '@') is unique in a cluster and is what
// pids print; the address part lets any node dial any other without a name service.
import { ActorError } from '../actors/errors.ts';

const SHORT_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const FULL_NAME = /^([A-Za-z][A-Za-z0-9_-]{0,63})@([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/;

export interface NodeAddress {
  short: string;
  host: string;
  port: number;
}

export function checkShortName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !SHORT_NAME.test(name)) {
    throw new ActorError(
      'invalid_argument',
      `a node name must be a letter then up to 63 letters, digits, '_' or '-'; got ${JSON.stringify(name)}`,
    );
  }
}

export function isFullName(name: string): boolean {
  return FULL_NAME.test(name);
}

/** Parses `name@host:port`; throws invalid_argument with the expected form otherwise. */
export function parseFullName(name: unknown): NodeAddress {
  const m = typeof name === 'string' ? FULL_NAME.exec(name) : null;
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || !(port > 0 && port < 65536)) {
    throw new ActorError(
      'invalid_argument',
      `expected a node name like p1@127.0.0.1:4001, got ${JSON.stringify(name)}`,
    );
  }
  return { short: m[1]!, host: m[2]!, port };
}

export function fullName(short: string, host: string, port: number): string {
  return `${short}@${host}:${port}`;
}

export function shortName(node: string): string {
  const at = node.indexOf('@');
  return at < 0 ? node : node.slice(0, at);
}
