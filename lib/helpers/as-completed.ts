// submitit.helpers.as_completed: the jobs, each as soon as it has ended (in any way).
import type { Job } from '../core/job.js'

/**
 * Yields each job once it is done, in the order they end: `for await (const job of asCompleted(jobs))`.
 * Each job's wait() settles into a queue (one callback per job), so n jobs cost O(n), not a race
 * over every pending job per yield; jobs that end while the consumer is busy wait in the queue.
 */
export async function* asCompleted<R>(jobs: Iterable<Job<R>>): AsyncGenerator<Job<R>> {
  const unique = new Set(jobs) // a job given twice is yielded once
  const ended: (Job<R> | undefined)[] = []
  let failure: { error: unknown } | undefined
  let wake: (() => void) | undefined
  const notify = () => {
    const w = wake
    wake = undefined
    w?.()
  }
  for (const job of unique) {
    job.wait().then(
      () => {
        ended.push(job)
        notify()
      },
      (error: unknown) => {
        failure ??= { error }
        notify()
      },
    )
  }
  for (let next = 0; next < unique.size; next++) {
    while (next >= ended.length && !failure)
      await new Promise<void>((r) => {
        wake = r
      })
    if (next >= ended.length) throw failure!.error // a wait() that failed: as Promise.race would
    const job = ended[next]!
    ended[next] = undefined // the consumer holds it now
    yield job
  }
}
