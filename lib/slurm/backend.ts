// The SlurmExecutor's entry in the backend registry (listed in lib/backends.ts): picked by
// AutoExecutor when sbatch is on the PATH; attached jobs are watched by the process-wide poller.
import fs from 'node:fs'
import path from 'node:path'
import { submissionScriptPath } from '../core/paths.js'
import type { SubmissionRecord } from '../core/format.js'
import { sacctTimes, type SlurmCommandOptions } from './commands.js'
import type { BackendDefinition } from '../core/backends.js'
import type { Executor } from '../core/executor.js'
import { SlurmExecutor } from './executor.js'
import { attachedWatcher } from './job-watcher.js'
import { SLURM_PARAMETERS } from './params.js'
import { parseSacctTimes, type SacctTimes } from './parse.js'
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
  createExecutor: ({ folder, commands }) => new SlurmExecutor({ folder, commands: commands as SlurmCommandOptions | undefined }) as unknown as Executor<object>,
  parametersOf: scriptParameters,
  parameters: SLURM_PARAMETERS,
  isAvailable: () => onPath('sbatch'),
  priority: 10,
  attach: (record) => attachedWatcher(record, getSharedWatcher()),
  refresh: () => getSharedWatcher().refresh(),
  cancelJobs: (record, jobs) => attachedWatcher(record, getSharedWatcher()).cancelMany(jobs),
  timings: accountedTimes,
}

/**
 * sacct's start, end and node of jobs that left no timings (a time limit, a scancel, out of memory:
 * killed before the worker could record them). A packed element is not a Slurm job (its pack's times
 * are not its own): none. Only jobs submitted when the submission was written (not a reused id's).
 */
async function accountedTimes(record: SubmissionRecord, jobIds: readonly string[]): Promise<Map<string, SacctTimes>> {
  if ((record.params.pack ?? 1) > 1 || jobIds.length === 0) return new Map()
  try {
    const found = parseSacctTimes(await sacctTimes(jobIds))
    const wanted = new Set(jobIds)
    // sbatch ran right after the submission file was written: a job submitted long after is one
    // that got the id again (a reset cluster), not this one (sacct's times are whole seconds)
    const ours = (t: SacctTimes) => t.submittedAt === undefined || Math.abs(t.submittedAt - record.owner.at) < 10 * 60_000
    return new Map([...found].filter(([id, t]) => wanted.has(id) && ours(t)))
  } catch {
    return new Map() // no accounting here: nothing more to say
  }
}

/** The parameters of an old submission's batch script worth keeping for a rerun (its #SBATCH lines). */
function scriptParameters(record: SubmissionRecord): Record<string, unknown> {
  let script: string
  try {
    script = fs.readFileSync(submissionScriptPath(record.folder, record.arrayId, record.isArray), 'utf8')
  } catch {
    return {}
  }
  const flags = new Map<string, string>()
  for (const m of script.matchAll(/^#SBATCH --([a-z-]+)=(.*)$/gm)) flags.set(m[1], m[2].replace(/^'(.*)'$/, '$1'))
  const out: Record<string, unknown> = {}
  const text: Record<string, string> = { partition: 'partition', account: 'account', qos: 'qos', constraint: 'constraint', 'job-name': 'jobName' }
  for (const [flag, name] of Object.entries(text)) if (flags.has(flag)) out[name] = flags.get(flag)
  const ints: Record<string, string> = { 'cpus-per-task': 'cpusPerTask', 'gpus-per-node': 'gpusPerNode' }
  for (const [flag, name] of Object.entries(ints)) if (/^\d+$/.test(flags.get(flag) ?? '')) out[name] = Number(flags.get(flag))
  const mem = /^(\d+)([KMGT]?)$/.exec(flags.get('mem') ?? '')
  if (mem) out.memGb = Number(mem[1]) * ({ K: 1 / 1024 ** 2, M: 1 / 1024, G: 1, T: 1024, '': 1 / 1024 } as Record<string, number>)[mem[2]]
  return out
}
