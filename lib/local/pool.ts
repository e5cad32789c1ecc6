// The thread pool that runs chunks of jobs (worker/pool.ts in each thread): the LocalExecutor's, and
// a pack's on a Slurm node (worker/pack.ts). piscina loads with the first pool: importing it costs
// ~0.1 s of CPU, which every task module (they import the library) would pay at start, in each pool
// thread and on each Slurm node.
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import type { Piscina } from 'piscina'
import type { RunReply, RunRequest } from '../core/protocol.js'

const POOL_FILE = fileURLToPath(new URL('../../worker/pool.js', import.meta.url))

export type JobPool = Piscina<RunRequest, RunReply>

/**
 * What stops a running chunk: the signal piscina's run() takes (its EventEmitter form) and its
 * abort(). An AbortController's EventTarget costs ~30 µs a chunk in piscina (its creation, the
 * listener piscina adds and removes), a tenth of a single job's round trip.
 */
export class ChunkStop {
  aborted = false
  #listeners: (() => void)[] = []

  once(_event: 'abort', listener: () => void): void {
    this.#listeners.push(listener)
  }

  off(_event: 'abort', listener: () => void): void {
    this.#listeners = this.#listeners.filter((l) => l !== listener)
  }

  /** piscina's name for off */
  removeListener(event: 'abort', listener: () => void): void {
    this.off(event, listener)
  }

  abort(): void {
    if (this.aborted) return
    this.aborted = true
    const listeners = this.#listeners
    this.#listeners = []
    for (const l of listeners) l()
  }
}

/** All `threads` threads up at once (they start in parallel); idle ones do not keep the process alive. */
export function jobPool(threads: number): JobPool {
  const { Piscina } = createRequire(import.meta.url)('piscina') as typeof import('piscina')
  // recordTiming: piscina's run and wait histograms, which nothing reads (a clock read and a record per call)
  const pool = new Piscina<RunRequest, RunReply>({ filename: POOL_FILE, maxThreads: threads, minThreads: threads, idleTimeout: 30_000, recordTiming: false })
  const exits = new Map<number, Promise<void>>()
  // piscina says a worker is created before it gives it a task; the Worker itself is in pool.threads
  pool.on('workerCreate', ({ id }: { id: number }) => {
    const worker = pool.threads.find((w) => w.threadId === id)
    if (worker) exits.set(id, new Promise<void>((resolve) => worker.once('exit', () => resolve(void exits.delete(id)))))
  })
  threadExits.set(pool, exits)
  // an 'error' without a listener would be thrown in the caller's process. piscina emits one for a
  // reply that comes after its call was stopped (shutdown() while a thread answers: the chunk's result
  // file is read instead), and for a thread that fails between calls
  pool.on('error', (error: Error) => {
    if (!String(error?.message).startsWith('Unexpected message from Worker')) {
      process.emitWarning(`a thread of the LocalExecutor's pool failed outside any job: ${error?.stack ?? error}`, { code: 'SUBMITIT_POOL_ERROR' })
    }
  })
  return pool
}

const threadExits = new WeakMap<JobPool, Map<number, Promise<void>>>()

/**
 * Resolves once pool thread `threadId` has exited, or after `maxMs`. A stopped call rejects as soon
 * as its thread is told to terminate, while the thread may still run a little (the next statements):
 * what it leaves in memory and files is read once it is gone.
 */
export function threadExited(pool: JobPool, threadId: number, maxMs: number): Promise<void> {
  const exit = threadExits.get(pool)?.get(threadId)
  if (!exit) return Promise.resolve()
  let timer: NodeJS.Timeout | undefined
  return Promise.race([exit, new Promise<void>((r) => (timer = setTimeout(r, maxMs)))]).finally(() => clearTimeout(timer))
}
