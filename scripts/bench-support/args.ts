// Option parsing shared by the benchmark scripts.

/** A positive integer option; exits with a usage error otherwise. */
export function positiveInt(text: string | undefined, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`${flag} must be a positive integer, got '${text}'`);
    process.exit(2);
  }
  return n;
}
