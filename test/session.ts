// Drives an interactive child process (the REPL) line by line, waiting for its prompt.
// Used by tests that check what a user typing the README's session would see.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { NODE_START_TIMEOUT_MS } from '../transport/timeouts.ts';

export class Session {
  private readonly child: ChildProcessWithoutNullStreams;
  private output = '';
  private waiters: Array<() => void> = [];

  /**
   * Runs `command` in its own process group, so kill() also ends what it started (npm start
   * runs the REPL as a child of npm).
   */
  constructor(command: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: 'pipe',
      detached: true,
    });
    const onData = (chunk: Buffer) => {
      this.output += chunk.toString();
      for (const wake of this.waiters.splice(0)) wake();
    };
    this.child.stdout.on('data', onData);
    this.child.stderr.on('data', onData);
  }

  /** Everything printed so far (stdout and stderr interleaved). */
  get transcript(): string {
    return this.output;
  }

  /**
   * Waits until the output since `from` contains `text`; returns the index after it. The
   * default wait is the node start-up one (scaled by ACTORCLUSTER_TIMEOUT_SCALE).
   */
  async waitFor(text: string, from = 0, timeoutMs = NODE_START_TIMEOUT_MS): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.output.indexOf(text, from);
      if (at >= 0) return at + text.length;
      if (Date.now() > deadline || this.child.exitCode !== null) {
        throw new Error(`'${text}' did not appear; transcript:\n${this.output}`);
      }
      // Woken by new output; the timer only re-checks the deadline and the exit code.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Types a line and returns what was printed until the next prompt. */
  async line(text: string, prompt: string): Promise<string> {
    const start = this.output.length;
    this.child.stdin.write(`${text}\n`);
    const end = await this.waitFor(prompt, start);
    return this.output.slice(start, end - prompt.length);
  }

  /** Kills the whole process group (whatever is left of it). */
  kill(): void {
    try {
      process.kill(-this.child.pid!, 'SIGKILL');
    } catch {
      // nothing left in the group
    }
  }

  exited(): Promise<number | null> {
    if (this.child.exitCode !== null) return Promise.resolve(this.child.exitCode);
    return new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }
}

export const TSX = ['--import', 'tsx'];

/** Live (not zombie) processes of process group `pgid`; [] where /proc is not there. */
export function liveInGroup(pgid: number): number[] {
  if (!existsSync('/proc/self/stat')) return [];
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its ')'
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z') pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}
