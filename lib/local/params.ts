// The LocalExecutor's parameters, as data (lib/core/params.ts): their kinds, the generic names they
// stand for in AutoExecutor, and the rules between them. Checked by updateParameters.
import type { CommonParameters } from '../core/executor.js'
import type { ParameterSchema } from '../core/params.js'

export interface LocalParameters extends CommonParameters {
  /** threads in the pool (default: the number of CPUs) */
  maxWorkers?: number
  /** at most this many chunks of one array run at once (default: maxWorkers) */
  arrayParallelism?: number
  /**
   * A job past timeoutMin whose task has a checkpoint (or saved one with saveCheckpoint) is
   * requeued from it at most this many times (default 3, as submitit's max_num_timeout)
   */
  maxNumTimeout?: number
  /**
   * 'thread' (default): jobs run on a pool of worker threads of this process, fast. 'process': each
   * job in a process of its own, as on a node: its own globals, process.env and working directory
   * (process.chdir works), real signals, and a heap limit from memGb.
   */
  isolation?: 'thread' | 'process'
  /** the heap limit of a job's process (isolation: 'process'), in GB */
  memGb?: number
  /**
   * Shell lines run (by /bin/sh, in one shell) before each job's process, as Slurm's setup lines run
   * in the batch script: what they export, the directory they cd to, the job sees (e.g.
   * 'source venv/bin/activate', 'export OMP_NUM_THREADS=1'). A line that fails fails the job, naming
   * the line and its output. Only with isolation: 'process' (threads share this process's env).
   * AutoExecutor: localSetup.
   */
  setup?: string[]
}

const noNul = (v: unknown) => ((v as string[]).some((line) => line.includes('\0')) ? 'must not contain a NUL character' : undefined)

export const LOCAL_PARAMETERS: ParameterSchema = {
  specs: {
    timeoutMin: { kind: 'posNumber', text: 'a positive number of minutes', generic: 'timeoutMin' },
    tasksPerNode: { kind: 'posInt', generic: 'tasksPerNode' },
    nodes: { kind: 'posInt', generic: 'nodes' },
    maxWorkers: { kind: 'posInt' },
    arrayParallelism: { kind: 'posInt' },
    maxNumTimeout: { kind: 'nonNegInt', max: 255, text: 'an integer from 0 to 255', generic: 'maxNumTimeout' },
    isolation: { kind: 'oneOf', values: ['thread', 'process'] },
    memGb: { kind: 'posNumber', text: 'a positive number of GB', generic: 'memGb' },
    setup: { kind: 'stringArray', check: noNul },
  },
  rules: [
    (p) =>
      p.setup !== undefined && (p.setup as string[]).length > 0 && p.isolation !== 'process'
        ? "setup lines run before a job's own process: they need isolation: 'process' (threads share this process, its environment and " +
          `directory), got isolation ${p.isolation === undefined ? 'unset (thread)' : `'${String(p.isolation)}'`}`
        : undefined,
  ],
}

export const LOCAL_PARAMETER_NAMES = Object.keys(LOCAL_PARAMETERS.specs) as (keyof LocalParameters)[]
