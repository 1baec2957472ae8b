// Option parsing shared by the scripts.
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** A positive integer option; exits with a usage error otherwise. */
export function positiveInt(text: string | undefined, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`${flag} must be a positive integer, got '${text}'`);
    process.exit(2);
  }
  return n;
}

/** parseArgs, with an unknown option or a stray argument as a usage error (exit 2), not a crash. */
export function parseOptions<const T extends ParseArgsConfig>(config: T) {
  try {
    return parseArgs(config);
  } catch (err) {
    console.error(`${(err as Error).message}; see --help`);
    process.exit(2);
  }
}
