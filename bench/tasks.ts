// The task module of the benchmarks: the same functions run through the LocalExecutor (as tasks found
// by reference) and through the raw pools (re-exported by raw-worker.ts).
import { task } from '../lib/index.js'

/** A trivial task: what is measured is the overhead around it. */
export const trivial = task(import.meta.url, (x: number) => x + 1)

/** A CPU-bound task of `ms` milliseconds (a spin, as real work would hold the thread). */
export const busy = task(import.meta.url, (ms: number) => {
  const end = performance.now() + ms
  let n = 0
  while (performance.now() < end) n++
  return n > 0 ? ms : -1
})
