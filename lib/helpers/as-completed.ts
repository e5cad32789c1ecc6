// submitit.helpers.as_completed: the jobs, each as soon as it has ended (in any way).
import type { Job } from '../core/job.js'

/** Yields each job once it is done, in the order they end: `for await (const job of asCompleted(jobs))`. */
export async function* asCompleted<R>(jobs: Iterable<Job<R>>): AsyncGenerator<Job<R>> {
  const pending = new Map<Job<R>, Promise<Job<R>>>()
  for (const job of jobs) pending.set(job, job.wait().then(() => job))
  while (pending.size > 0) {
    const job = await Promise.race(pending.values())
    pending.delete(job)
    yield job
  }
}
