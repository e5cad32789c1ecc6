// The DebugExecutor's entry in the backend registry (listed in lib/backends.ts). Never picked by
// detection: only when named (cluster: 'debug', SUBMITIT_CLUSTER=debug).
import type { BackendDefinition } from '../core/backends.js'
import type { Executor } from '../core/executor.js'
import { DebugExecutor } from './executor.js'
import { DEBUG_PARAMETERS } from './params.js'

export const debugBackend: BackendDefinition = {
  name: 'debug',
  createExecutor: ({ folder }) => new DebugExecutor({ folder }) as unknown as Executor<object>,
  parameters: DEBUG_PARAMETERS,
}
