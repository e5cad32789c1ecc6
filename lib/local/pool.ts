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
  return new Piscina<RunRequest, RunReply>({ filename: POOL_FILE, maxThreads: threads, minThreads: threads, idleTimeout: 30_000 })
}
