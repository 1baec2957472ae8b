// The public face of the process runtime: import everything from here.
// Apps and scripts use only this module; kernel internals stay behind it.
export {
  cancelTimer,
  type Dest,
  demonitor,
  exit,
  flush,
  isAlive,
  kill,
  link,
  matches,
  messageQueueLen,
  monitor,
  nodeName,
  type Pattern,
  type ProcessInfo,
  processes,
  processInfo,
  receive,
  register,
  registered,
  resume,
  self,
  send,
  sendAfter,
  sleep,
  spawn,
  spawnLink,
  spawnMonitor,
  spawnOpt,
  suspend,
  TIMEOUT,
  type Timeout,
  trapExit,
  unlink,
  unregister,
  whereis,
} from './api.ts';
export { CALL_TIMEOUT_MS_DEFAULT, call, cast, reply } from './call.ts';
export { ActorError, type ActorErrorCode, ExitSignal, showValue } from './errors.ts';
export {
  type CallResult,
  GenServer,
  type GenServerSpec,
  type NoReplyResult,
  type StartOptions,
} from './genserver.ts';
export { Global, type GlobalBackend } from './global.ts';
export { type Logger, logger, setLogger } from './log.ts';
export {
  type CallMessage,
  type CastMessage,
  DownMessage,
  ExitMessage,
  type From,
  isCall,
  isCast,
  isDown,
  isExit,
} from './messages.ts';
export { counter, gauge, histogram, metricsText, registry } from './metrics.ts';
export { readProbes, recentEvents, recordEvent, registerProbe } from './observe.ts';
export { isPid, isRef, Pid, Ref } from './pid.ts';
export { type ExitReason, formatReason, isCleanExit } from './reason.ts';
export {
  type ChildInfo,
  type ChildSpec,
  MAX_INTENSITY_REASON,
  type RestartType,
  type Shutdown,
  type Strategy,
  Supervisor,
  type SupervisorOptions,
} from './supervisor.ts';
