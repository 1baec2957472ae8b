import { afterEach, describe, expect, it } from 'vitest';
import {
  ActorError,
  Global,
  kill,
  monitor,
  receive,
  register,
  registered,
  self,
  send,
  spawn,
  unregister,
  whereis,
} from '../../actors/index.ts';
import { deadPid, expectReceive, resetRuntime } from '../helpers.ts';

afterEach(resetRuntime);

const forever = () => receive((m) => m === 'never-sent');

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof ActorError ? err.code : `not an ActorError: ${String(err)}`;
  }
  return undefined;
}

describe('local names', () => {
  it('register, whereis, send by name, unregister', async () => {
    const me = self();
    const pid = spawn(async () => {
      const m = await receive();
      send(me, { echoed: m });
    });
    const ref = monitor(pid);
    register('echo', pid);
    expect(whereis('echo')).toEqual(pid);
    expect(registered()).toContain('echo');
    send('echo', 42);
    expect(await receive({ echoed: 42 }, 1000)).toEqual({ echoed: 42 });
    await expectReceive({ type: 'DOWN', ref, reason: 'normal' }, 'the echo process to end');
    expect(whereis('echo')).toBeUndefined(); // released when the process exited
  });

  it('refuses a taken name, a second name, a dead pid and a bad name with typed errors', async () => {
    const a = spawn(forever);
    const b = spawn(forever);
    register('a', a);
    expect(code(() => register('a', b))).toBe('name_taken');
    expect(code(() => register('a2', a))).toBe('already_registered');
    const dead = await deadPid();
    expect(code(() => register('dead', dead))).toBe('noproc');
    expect(code(() => register('', b))).toBe('invalid_argument');
    expect(code(() => register(42 as unknown as string, b))).toBe('invalid_argument');
    expect(code(() => register('x', 'not a pid' as never))).toBe('invalid_argument');
    expect(whereis('a')).toEqual(a); // state intact after the failures
    expect(code(() => unregister('never-registered'))).toBe('unknown_name');
    unregister('a');
    register('b', b);
    register('a', a);
    expect(whereis('a')).toEqual(a);
  });

  it('sending to an unregistered name throws unknown_name', () => {
    expect(code(() => send('nobody', 'hi'))).toBe('unknown_name');
    expect(code(() => send({ global: 'nobody' }, 'hi'))).toBe('unknown_name');
    expect(code(() => send(42 as never, 'hi'))).toBe('invalid_argument');
  });

  it('a name is free again once its holder is killed', async () => {
    const a = spawn(forever);
    register('svc', a);
    kill(a);
    expect(whereis('svc')).toBeUndefined();
    const b = spawn(forever);
    register('svc', b);
    expect(whereis('svc')).toEqual(b);
  });
});

describe('Global registry (node-local backend)', () => {
  it('register, whereis, send, reRegister, unregister', async () => {
    const me = self();
    const a = spawn(async () => {
      send(me, { a: await receive() });
    });
    const b = spawn(forever);
    expect(await Global.register('coord', a)).toBe(true);
    expect(await Global.register('coord', b)).toBe(false);
    expect(Global.whereis('coord')).toEqual(a);
    Global.send('coord', 'hello');
    expect(await receive(null, 1000)).toEqual({ a: 'hello' });
    await Global.reRegister('coord', b);
    expect(Global.whereis('coord')).toEqual(b);
    send({ global: 'coord' }, 'to b');
    await Global.unregister('coord');
    expect(Global.whereis('coord')).toBeUndefined();
    expect(() => Global.send('coord', 'x')).toThrow(ActorError);
  });

  it('releases names of processes that die', async () => {
    const a = spawn(forever);
    expect(await Global.register('leader', a)).toBe(true);
    const ref = monitor({ global: 'leader' });
    kill(a);
    expect(await receive({ type: 'DOWN', ref }, 1000)).toMatchObject({ reason: 'killed' });
    expect(Global.whereis('leader')).toBeUndefined();
    expect(Global.registeredNames()).not.toContain('leader');
  });

  it('refuses dead pids and bad names', async () => {
    const dead = await deadPid();
    await expect(Global.register('x', dead)).rejects.toMatchObject({ code: 'noproc' });
    // misuse rejects the promise (never a synchronous throw), with a typed error
    await expect(Global.register('', self())).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(Global.register('x', 42 as never)).rejects.toBeInstanceOf(ActorError);
    await expect(Global.reRegister('', self())).rejects.toBeInstanceOf(ActorError);
    await expect(Global.unregister(7 as never)).rejects.toMatchObject({
      code: 'invalid_argument',
    });
  });
});
