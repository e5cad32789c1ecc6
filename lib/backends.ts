// The built-in backends, listed here and nowhere else: the registry (lib/core/backends.ts) that
// AutoExecutor, attachJob and the command line read holds these, then any third-party backend a
// plugin registers with registerBackend().
import { type BackendDefinition, registerBackend } from './core/backends.js'
import { debugBackend } from './debug/backend.js'
import { localBackend } from './local/backend.js'
import { slurmBackend } from './slurm/backend.js'

export const BUILTIN_BACKENDS: readonly BackendDefinition[] = [debugBackend, localBackend, slurmBackend]

for (const backend of BUILTIN_BACKENDS) registerBackend(backend, { builtin: true })

export { type BackendDefinition, getBackend, listBackends, registerBackend, unregisterBackend } from './core/backends.js'
