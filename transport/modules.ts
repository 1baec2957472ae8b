// Functions a node can spawn by name for other nodes: `spawnOn(node, 'Module.fn', args)`.
// Closures cannot cross processes, so a node registers modules (or loads them at start).
import { ActorError } from '../actors/errors.ts';

const modules = new Map<string, Record<string, unknown>>();

/** Makes the functions exported by `exports` spawnable as `name.fn` on this node. */
export function registerModule(name: string, exports: Record<string, unknown>): void {
  if (typeof name !== 'string' || !/^[A-Za-z_$][\w$]*$/.test(name)) {
    throw new ActorError(
      'invalid_argument',
      `a module name must be an identifier, got ${JSON.stringify(name)}`,
    );
  }
  if (typeof exports !== 'object' || exports === null) {
    throw new ActorError('invalid_argument', `module '${name}' must be an object of functions`);
  }
  modules.set(name, exports);
}

export function registeredModules(): string[] {
  return [...modules.keys()];
}

/** The function named `Module.fn`; throws invalid_argument naming what is missing. */
export function lookupFunction(spec: unknown, node: string): (...args: unknown[]) => unknown {
  if (typeof spec !== 'string' || !/^[A-Za-z_$][\w$]*\.[A-Za-z_$][\w$]*$/.test(spec)) {
    throw new ActorError(
      'invalid_argument',
      `expected 'Module.function', got ${JSON.stringify(spec)}`,
    );
  }
  const [moduleName, fnName] = spec.split('.') as [string, string];
  const mod = modules.get(moduleName);
  if (!mod) {
    throw new ActorError(
      'invalid_argument',
      `no module '${moduleName}' on node ${node} (loaded: ${registeredModules().join(', ') || 'none'})`,
    );
  }
  const fn = mod[fnName];
  if (typeof fn !== 'function')
    throw new ActorError('invalid_argument', `'${spec}' is not a function on node ${node}`);
  return fn as (...args: unknown[]) => unknown;
}
