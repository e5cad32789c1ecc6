// The LocalExecutor's entry in the backend registry (listed in lib/backends.ts).
import type { BackendDefinition } from '../core/backends.js'
import type { Executor } from '../core/executor.js'
import { LocalExecutor } from './executor.js'
import { LOCAL_PARAMETERS } from './params.js'

export const localBackend: BackendDefinition = {
  name: 'local',
  createExecutor: ({ folder }) => new LocalExecutor({ folder }) as unknown as Executor<object>,
  parameters: LOCAL_PARAMETERS,
  // always there: AutoExecutor's fallback when no scheduler is
  isAvailable: () => true,
  priority: 0,
  // attach: the default, its result files and the life of the process that runs it
}
