// The parallel merged search's worker thread starts here: it registers tsx in this thread (a
// thread does not inherit the loader the main thread was started with), then runs the worker.
import { register } from 'tsx/esm/api';

register();
await import('./merged-worker.ts');
