// The SlurmExecutor's entry in the backend registry (listed in lib/backends.ts): picked by
// AutoExecutor when sbatch is on the PATH; attached jobs are watched by the process-wide poller.
import fs from 'node:fs'
import path from 'node:path'
import type { BackendDefinition } from '../core/backends.js'
import type { Executor } from '../core/executor.js'
import { SlurmExecutor } from './executor.js'
import { attachedWatcher } from './job-watcher.js'
import { SLURM_PARAMETERS } from './params.js'
import { getSharedWatcher } from './watcher.js'

/** Is `command` an executable file on the PATH? */
export function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir, command), fs.constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

export const slurmBackend: BackendDefinition = {
  name: 'slurm',
  createExecutor: ({ folder }) => new SlurmExecutor({ folder }) as unknown as Executor<object>,
  parameters: SLURM_PARAMETERS,
  isAvailable: () => onPath('sbatch'),
  priority: 10,
  attach: (record) => attachedWatcher(record, getSharedWatcher()),
  refresh: () => getSharedWatcher().refresh(),
}
