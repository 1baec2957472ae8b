// Explicit fault schedules for the simulator, one event a line: `at 500 crash n2 for 300`,
// `at 800 power-loss n1 for 200`, `at 1000 partition n1,n2 | n3 for 400`; # starts a comment.

export type FaultEvent =
  /** The nodes' processes die (committed writes survive); they restart after `forMs`. */
  | { atMs: number; kind: 'crash'; nodes: string[]; forMs?: number }
  /** The nodes lose power: down, and every write not flushed yet is lost. */
  | { atMs: number; kind: 'power-loss'; nodes: string[]; forMs?: number }
  /** The groups cannot reach each other; nodes named in no group form one more group. */
  | { atMs: number; kind: 'partition'; groups: string[][]; forMs?: number };

export interface ScheduleContext {
  /** The cluster's node names: an event naming another node is an error. */
  names: readonly string[];
  /** Faults stop then (virtual ms): an event must start before it. */
  faultMs?: number;
}

/** A bad schedule line: the message names the line and what was expected. */
export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

const FORM =
  "'[at] MS crash|power-loss NODE[,NODE...] [for MS]' or '[at] MS partition A,B | C [for MS]'";

/**
 * Parses one event, e.g. `500 crash n2 for 300` (the leading `at` is optional). Without `for`
 * the fault lasts until the fault phase ends.
 */
export function parseFaultEvent(text: string, ctx: ScheduleContext): FaultEvent {
  /** `syntax`: the line is malformed, so the error shows the expected form. */
  const fail = (why: string, syntax = false): never => {
    throw new ScheduleError(`${why} in '${text.trim()}'${syntax ? ` (expected ${FORM})` : ''}`);
  };
  let words = text.trim().split(/\s+/).filter(Boolean);
  if (words[0] === 'at') words = words.slice(1);
  if (words.length < 3) fail('too few words', true);
  const atMs = msOf(words[0]!, 'the time', fail);
  const kind = words[1]!;
  let rest = words.slice(2);
  let forMs: number | undefined;
  const f = rest.indexOf('for');
  if (f >= 0) {
    if (f !== rest.length - 2) fail("'for' must be followed by one duration, at the end", true);
    forMs = msOf(rest[f + 1]!, 'the duration', fail);
    if (forMs <= 0) fail(`the duration must be > 0, got '${rest[f + 1]}'`);
    rest = rest.slice(0, f);
  }
  if (rest.length === 0) fail('no nodes named', true);
  if (ctx.faultMs !== undefined && atMs >= ctx.faultMs)
    fail(`the time ${atMs} is not before the end of the fault phase (${ctx.faultMs} ms)`);
  const known = new Set(ctx.names);
  const nodeList = (s: string): string[] => {
    const nodes = s.split(',').map((n) => n.trim());
    for (const n of nodes) {
      if (n === '') fail(`an empty node name in '${s}'`);
      if (!known.has(n))
        fail(`unknown node '${n}' (the nodes are ${ctx.names[0]}..${ctx.names.at(-1)})`);
    }
    return nodes;
  };
  const seen = (nodes: string[]) => {
    if (new Set(nodes).size !== nodes.length) fail('a node named twice');
  };
  const opt = forMs === undefined ? {} : { forMs };
  switch (kind) {
    case 'crash':
    case 'power-loss': {
      if (rest.length !== 1) fail(`${kind} takes one comma-separated list of nodes`, true);
      const nodes = nodeList(rest[0]!);
      seen(nodes);
      return { atMs, kind, nodes, ...opt };
    }
    case 'partition': {
      const groups = rest
        .join(' ')
        .split('|')
        .map((g) => g.replace(/\s+/g, ''))
        .map((g) => (g === '' ? fail("an empty group around '|'") : nodeList(g)));
      seen(groups.flat());
      return { atMs, kind, groups, ...opt };
    }
    default:
      return fail(`unknown fault '${kind}'`, true);
  }
}

/** Parses a schedule file's text; an error names `source` and the line number. */
export function parseSchedule(
  text: string,
  ctx: ScheduleContext,
  source = 'schedule',
): FaultEvent[] {
  const events: FaultEvent[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    try {
      events.push(parseFaultEvent(line, ctx));
    } catch (err) {
      if (err instanceof ScheduleError)
        throw new ScheduleError(`${source} line ${i + 1}: ${err.message}`);
      throw err;
    }
  });
  return events;
}

/** The line `parseFaultEvent` reads back to the same event. */
export function formatFaultEvent(e: FaultEvent): string {
  const what =
    e.kind === 'partition' ? e.groups.map((g) => g.join(',')).join(' | ') : e.nodes.join(',');
  return `at ${e.atMs} ${e.kind} ${what}${e.forMs === undefined ? '' : ` for ${e.forMs}`}`;
}

function msOf(s: string, what: string, fail: (why: string) => never): number {
  const n = Number(s);
  if (s === '' || !Number.isFinite(n) || n < 0)
    fail(`${what} must be a number of ms >= 0, got '${s}'`);
  return n;
}
