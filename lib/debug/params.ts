// The DebugExecutor's parameters, as data (lib/core/params.ts). A task running in the caller's
// thread cannot be stopped: timeoutMin is refused (set), rather than silently ignored.
import type { CommonParameters } from '../core/executor.js'
import type { ParameterSchema } from '../core/params.js'

export type DebugParameters = Omit<CommonParameters, 'timeoutMin'>

export const DEBUG_PARAMETERS: ParameterSchema = {
  specs: {
    tasksPerNode: { kind: 'posInt', generic: 'tasksPerNode' },
    nodes: { kind: 'posInt', generic: 'nodes' },
    // named only to be refused with a reason (null/undefined: unset, accepted)
    timeoutMin: { kind: 'posNumber' },
  },
  refuses: {
    timeoutMin:
      'the DebugExecutor runs each job in this thread, where a running task cannot be stopped: ' +
      'timeoutMin cannot be honoured. Test timeouts with the LocalExecutor (AutoExecutor leaves timeoutMin out for the debug cluster)',
  },
}

export const DEBUG_PARAMETER_NAMES = Object.keys(DEBUG_PARAMETERS.specs)
