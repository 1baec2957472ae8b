// The one command-line wrapper every script uses: --help prints the usage and exits 0; an
// unknown, malformed or out-of-range option prints one line and the usage, and exits 2.
import { type ParseArgsConfig, parseArgs } from 'node:util';

export type Options = NonNullable<ParseArgsConfig['options']>;
/** The names of the single-valued string options of O: those int, number, choice... read. */
type Flag<O extends Options> = {
  [K in keyof O & string]: O[K] extends { type: 'string' }
    ? O[K] extends { multiple: true }
      ? never
      : K
    : never;
}[keyof O & string];

export interface CliSpec<O extends Options, P extends boolean> {
  /** The usage text printed by --help and after every usage error. */
  usage: string;
  /** The script's options; `help` is added. */
  options: O;
  /** Whether bare arguments are allowed (default false). */
  allowPositionals?: P;
  /** Arguments to parse (default: process.argv after the script). */
  args?: string[];
}

/** A parsed command line; every usage error prints one line and the usage on stderr, exit code 2. */
export class Cli<O extends Options, P extends boolean> {
  readonly values: ReturnType<
    typeof parseArgs<{ options: O; allowPositionals: P; strict: true }>
  >['values'];
  readonly positionals: string[];
  readonly usage: string;

  constructor(spec: CliSpec<O, P>) {
    this.usage = spec.usage;
    let parsed: { values: Record<string, unknown>; positionals: string[] };
    try {
      parsed = parseArgs({
        args: spec.args ?? process.argv.slice(2),
        options: { ...spec.options, help: { type: 'boolean', short: 'h' } },
        allowPositionals: spec.allowPositionals ?? false,
        strict: true,
      }) as typeof parsed;
    } catch (err) {
      this.fail(oneLine((err as Error).message));
    }
    if (parsed.values.help) {
      console.log(this.usage);
      process.exit(0);
    }
    this.values = parsed.values as never;
    this.positionals = parsed.positionals;
  }

  /** Prints `message` and the usage on stderr and exits 2. */
  fail(message: string): never {
    console.error(`${message}\n\n${this.usage}`);
    process.exit(2);
  }

  /** An integer option within [min, max]; undefined when absent. */
  int(flag: Flag<O>, bounds: { min?: number; max?: number } = {}): number | undefined {
    return this.number(flag, { ...bounds, integer: true });
  }

  /** A number option within [min, max] (and > `above` if given); undefined when absent. */
  number(
    flag: Flag<O>,
    bounds: { min?: number; max?: number; above?: number; integer?: boolean } = {},
  ): number | undefined {
    const text = this.string(flag);
    if (text === undefined) return undefined;
    const n = text.trim() === '' ? Number.NaN : Number(text);
    const {
      min = Number.NEGATIVE_INFINITY,
      max = Number.POSITIVE_INFINITY,
      above,
      integer,
    } = bounds;
    if (
      !Number.isFinite(n) ||
      (integer && !Number.isInteger(n)) ||
      n < min ||
      n > max ||
      (above !== undefined && n <= above)
    ) {
      const kind = integer ? 'an integer' : 'a number';
      const lower =
        above !== undefined ? `> ${above}` : min > Number.NEGATIVE_INFINITY ? `>= ${min}` : '';
      const upper = max < Number.POSITIVE_INFINITY ? `<= ${max}` : '';
      const range =
        lower.startsWith('>=') && upper
          ? `from ${min} to ${max}`
          : [lower, upper].filter(Boolean).join(' and ');
      this.fail(`--${flag} must be ${[kind, range].filter(Boolean).join(' ')}, got '${text}'`);
    }
    return n;
  }

  /** A TCP port option, an integer from 0 to 65535; undefined when absent. */
  port(flag: Flag<O>): number | undefined {
    return this.int(flag, { min: 0, max: 65535 });
  }

  /** A string option that must be one of `choices`. */
  choice<C extends string>(flag: Flag<O>, choices: readonly C[]): C | undefined {
    const text = this.string(flag);
    if (text === undefined) return undefined;
    if (!choices.includes(text as C))
      this.fail(`--${flag} must be one of ${choices.join(', ')}, got '${text}'`);
    return text as C;
  }

  /** A comma-separated list of integers, each within bounds. */
  intList(flag: Flag<O>, bounds: { min?: number; max?: number } = {}): number[] | undefined {
    const text = this.string(flag);
    if (text === undefined) return undefined;
    const { min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY } = bounds;
    const items = text.split(',').map((s) => s.trim());
    const out = items.map(Number);
    if (items.some((s) => s === '') || out.some((n) => !Number.isInteger(n) || n < min || n > max))
      this.fail(`--${flag} must be a comma-separated list of integers, got '${text}'`);
    return out;
  }

  private string(flag: Flag<O>): string | undefined {
    const v = (this.values as Record<string, unknown>)[flag];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') this.fail(`--${flag} takes a value`);
    return v;
  }
}

/** Parses the command line of a script: see `Cli`. */
export function cli<const O extends Options, const P extends boolean = false>(
  spec: CliSpec<O, P>,
): Cli<O, P> {
  return new Cli(spec);
}

/** parseArgs's message on one line, without its hints about positionals and typos. */
function oneLine(text: string): string {
  return text
    .split('\n')
    .filter((line) => !line.startsWith('Did you forget'))
    .join(' ')
    .replace(/\. To specify a positional argument.*$/, '');
}
