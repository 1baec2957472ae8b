// The counterexample file: the model's options and its steps as JSON, and its replay through the
// same step functions (what `npm run sim -- --replay FILE` and the tests run). One format for
// both models: `protocol` says which (a Paxos file written before EPaxos traces still reads).
import { readFileSync, writeFileSync } from 'node:fs';
import { EPAXOS_MUTATIONS, type EpaxosMutation } from '../epaxos/replica.ts';
import { PAXOS_MUTATIONS, type PaxosMutation } from '../paxos/mutations.ts';
import { type EpaxosModelOptions, type EpaxosStep, epaxosModel } from './epaxos-model.ts';
import {
  type PaxosCore,
  type PaxosModelOptions,
  type PaxosStep,
  paxosModel,
} from './paxos-model.ts';

export const TRACE_FORMAT = 'actorcluster-model-trace/1';

/** A Paxos counterexample (`loss` null: any number of losses). */
export interface PaxosTraceFile {
  format: typeof TRACE_FORMAT;
  protocol: 'paxos';
  /** The core's module when not the shipping one (a student's, given with --impl). */
  impl?: string;
  options: Omit<PaxosModelOptions, 'core' | 'loss'> & { loss: number | null };
  violation: string;
  steps: PaxosStep[];
}

/** An EPaxos counterexample (the real core, apps/epaxos/replica.ts). */
export interface EpaxosTraceFile {
  format: typeof TRACE_FORMAT;
  protocol: 'epaxos';
  options: Omit<EpaxosModelOptions, 'mutations'> & { mutations: EpaxosMutation[] };
  violation: string;
  steps: EpaxosStep[];
}

/** The file's contents. */
export type TraceFile = PaxosTraceFile | EpaxosTraceFile;

/** What a writer gives: the file without its format string (one per protocol). */
export type TraceContents = Omit<PaxosTraceFile, 'format'> | Omit<EpaxosTraceFile, 'format'>;

export const TRACE_PROTOCOLS = ['paxos', 'epaxos'] as const;

export function writeTrace(path: string, t: TraceContents): void {
  writeFileSync(path, `${JSON.stringify({ format: TRACE_FORMAT, ...t }, null, 2)}\n`);
}

/** Reads and checks a trace file; throws, naming the file, on anything it cannot replay. */
export function readTrace(path: string): TraceFile {
  const t = JSON.parse(readFileSync(path, 'utf8')) as TraceFile;
  if (t?.format !== TRACE_FORMAT) throw new Error(`${path} is not a model trace (${TRACE_FORMAT})`);
  if (!(TRACE_PROTOCOLS as readonly string[]).includes(t.protocol))
    throw new Error(
      `${path}: protocol ${String(t.protocol)} cannot be replayed (${TRACE_PROTOCOLS.join(' or ')})`,
    );
  if (typeof t.options !== 'object' || t.options === null || !Array.isArray(t.options.mutations))
    throw new Error(`${path}: no options`);
  const known: readonly string[] = t.protocol === 'paxos' ? PAXOS_MUTATIONS : EPAXOS_MUTATIONS;
  for (const m of t.options.mutations)
    if (!known.includes(m as PaxosMutation | EpaxosMutation))
      throw new Error(`${path}: unknown ${t.protocol} mutation ${m}`);
  // The bounds check:model takes on its command line (a file is input like any other).
  const bounds: ReadonlyArray<readonly [string, number, number]> =
    t.protocol === 'epaxos'
      ? [
          ['replicas', 1, 7],
          ['commands', 1, 10],
          ['timers', 0, 20],
          ['crashes', 0, 20],
        ]
      : [
          ['participants', 1, 7],
          ['values', 1, 10],
          ['ballots', 0, 20],
          ['crashes', 0, 20],
          ['dup', 0, 20],
        ];
  const o = t.options as unknown as Record<string, unknown>;
  for (const [name, min, max] of bounds) {
    const v = o[name];
    if (!Number.isInteger(v) || (v as number) < min || (v as number) > max)
      throw new Error(
        `${path}: options.${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`,
      );
  }
  if (t.protocol === 'paxos') {
    if (o.network !== undefined && o.network !== 'set' && o.network !== 'multiset')
      throw new Error(
        `${path}: options.network must be set or multiset, got ${JSON.stringify(o.network)}`,
      );
    if (
      o.loss !== null &&
      o.loss !== undefined &&
      !(Number.isInteger(o.loss) && (o.loss as number) >= 0)
    )
      throw new Error(
        `${path}: options.loss must be null (any) or an integer >= 0, got ${JSON.stringify(o.loss)}`,
      );
  }
  if (!Array.isArray(t.steps)) throw new Error(`${path}: no steps`);
  return t;
}

export interface ReplayResult {
  /** Each step in words, numbered from 1. */
  lines: string[];
  /** The invariant broken at the last step, or null if the run stayed clean. */
  violation: string | null;
}

/** The part of a model a replay needs: its start, its successors, steps matched and in words. */
interface Replayable<S, St> {
  initial(): S;
  successors(s: S): Array<{ step: St; next: S; violation: string | null }>;
  stepKey(step: St): string;
  describe(s: S, step: St): string;
}

/**
 * Re-runs the steps on the model (the real step functions); throws on a step not possible, and
 * on a step after the one that broke an invariant. A Paxos trace found with --impl needs `core`.
 */
export function replayTrace(t: TraceFile, core?: PaxosCore): ReplayResult {
  if (t.protocol === 'epaxos') {
    const model = epaxosModel(t.options);
    return replaySteps({ ...model, describe: (_g, step) => model.describe(step) }, t.steps);
  }
  const model = paxosModel({
    ...t.options,
    loss: t.options.loss ?? Number.POSITIVE_INFINITY,
    ...(core ? { core } : {}),
  });
  return replaySteps(model, t.steps);
}

function replaySteps<S, St>(model: Replayable<S, St>, steps: readonly St[]): ReplayResult {
  let g = model.initial();
  const lines: string[] = [];
  let violation: string | null = null;
  steps.forEach((step, i) => {
    if (violation !== null) throw new Error(`step ${i + 1}: the run broke an invariant before it`);
    let key: string;
    try {
      key = model.stepKey(step);
    } catch (err) {
      throw new Error(`step ${i + 1} is not a step: ${(err as Error).message}`);
    }
    const succ = model.successors(g).find((s) => model.stepKey(s.step) === key);
    if (!succ) throw new Error(`step ${i + 1} is not possible here: ${JSON.stringify(step)}`);
    lines.push(`${String(i + 1).padStart(3)}. ${model.describe(g, step)}`);
    violation = succ.violation;
    g = succ.next;
  });
  return { lines, violation };
}
