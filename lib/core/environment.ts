// What a running task can know about its job, like submitit.JobEnvironment. Tasks of a thread pool
// share one process, so the current job is tracked per async context, not in process.env.
import { AsyncLocalStorage } from 'node:async_hooks'
import os from 'node:os'
import type { BackendName } from './format.js'
import { JobPaths } from './paths.js'

export interface JobEnvironmentInfo {
  backend: BackendName
  /** A for a single job, A_a for an array element */
  jobId: string
  arrayJobId: string
  arrayTaskId: number | null
  /** tasks in the job (nodes × tasksPerNode) */
  numTasks: number
  numNodes: number
  /** index of this node among the job's nodes */
  node: number
  globalRank: number
  localRank: number
  /** the executor's folder template (%j, %A, %a, %t unresolved) */
  folderTemplate: string
  /** how many times the job was requeued before this run (Slurm's SLURM_RESTART_COUNT) */
  restarts: number
}

const current = new AsyncLocalStorage<JobEnvironment>()
const HOSTNAME = os.hostname() // a system call: once, not per task

export class JobEnvironment implements JobEnvironmentInfo {
  readonly backend!: BackendName
  readonly jobId!: string
  readonly arrayJobId!: string
  readonly arrayTaskId!: number | null
  readonly numTasks!: number
  readonly numNodes!: number
  readonly node!: number
  readonly globalRank!: number
  readonly localRank!: number
  readonly folderTemplate!: string
  readonly restarts!: number
  readonly hostname = HOSTNAME

  constructor(info: JobEnvironmentInfo) {
    Object.assign(this, info)
  }

  /** The environment of the job this code runs in; throws outside a job. */
  static current(): JobEnvironment {
    const env = current.getStore()
    if (!env) throw new Error('JobEnvironment.current() was called outside a submitit-ts job')
    return env
  }

  /** Like current(), but undefined outside a job. */
  static maybe(): JobEnvironment | undefined {
    return current.getStore()
  }

  get paths(): JobPaths {
    return new JobPaths(this.folderTemplate, this.jobId)
  }

  /** Runs `fn` with this environment as the current one. */
  run<T>(fn: () => T): T {
    return current.run(this, fn)
  }
}
