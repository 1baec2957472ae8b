// The counterexample file: the model's options and its steps as JSON, and its replay through the
// same step functions (what `npm run sim -- --replay FILE` and the tests run).
import { readFileSync, writeFileSync } from 'node:fs';
import { PAXOS_MUTATIONS, type PaxosMutation } from '../paxos/mutations.ts';
import {
  type PaxosCore,
  type PaxosModelOptions,
  type PaxosStep,
  paxosModel,
} from './paxos-model.ts';

export const TRACE_FORMAT = 'actorcluster-model-trace/1';

/** The file's contents (`loss` null: any number of losses). */
export interface TraceFile {
  format: typeof TRACE_FORMAT;
  protocol: 'paxos';
  /** The core's module when not the shipping one (a student's, given with --impl). */
  impl?: string;
  options: Omit<PaxosModelOptions, 'core' | 'loss'> & { loss: number | null };
  violation: string;
  steps: PaxosStep[];
}

export function writeTrace(path: string, t: Omit<TraceFile, 'format'>): void {
  writeFileSync(path, `${JSON.stringify({ format: TRACE_FORMAT, ...t }, null, 2)}\n`);
}

export function readTrace(path: string): TraceFile {
  const t = JSON.parse(readFileSync(path, 'utf8')) as TraceFile;
  if (t?.format !== TRACE_FORMAT) throw new Error(`${path} is not a model trace (${TRACE_FORMAT})`);
  if (t.protocol !== 'paxos')
    throw new Error(`${path}: protocol ${String(t.protocol)} cannot be replayed`);
  for (const m of t.options.mutations)
    if (!PAXOS_MUTATIONS.includes(m as PaxosMutation))
      throw new Error(`${path}: unknown mutation ${m}`);
  if (!Array.isArray(t.steps)) throw new Error(`${path}: no steps`);
  return t;
}

export interface ReplayResult {
  /** Each step in words, numbered from 1. */
  lines: string[];
  /** The invariant broken at the last step, or null if the run stayed clean. */
  violation: string | null;
}

/** Re-runs the steps on the model (the real step functions); throws on a step not possible. */
export function replayTrace(t: TraceFile, core?: PaxosCore): ReplayResult {
  const model = paxosModel({
    ...t.options,
    loss: t.options.loss ?? Number.POSITIVE_INFINITY,
    ...(core ? { core } : {}),
  });
  let g = model.initial();
  const lines: string[] = [];
  let violation: string | null = null;
  t.steps.forEach((step, i) => {
    if (violation !== null) throw new Error(`step ${i + 1}: the run broke an invariant before it`);
    const key = model.stepKey(step);
    const succ = model.successors(g).find((s) => model.stepKey(s.step) === key);
    if (!succ) throw new Error(`step ${i + 1} is not possible here: ${JSON.stringify(step)}`);
    lines.push(`${String(i + 1).padStart(3)}. ${model.describe(g, step)}`);
    violation = succ.violation;
    g = succ.next;
  });
  return { lines, violation };
}
