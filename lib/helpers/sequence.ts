// A function sequence (submitit's FunctionSequence): many calls in one job, their results in order.
// It is checkpointable: when the job is warned of its end (time limit, preemption), its checkpoint
// hands the results so far to the requeued run, which resumes at the first call not done. A task
// cannot be an object with state here, so the sequence is a task, runSequence, whose arguments are
// the calls and the results already known; functionSequence() makes them from delayed() items.
import { delayed, type Delayed } from '../core/executor.js'
import { snapshotModule } from '../core/snapshot.js'
import { loadTask, resolveTask, task, type TaskRef } from '../core/task.js'

/** One call of a sequence, as stored in its job's submission. */
export interface SequenceCall {
  task: TaskRef
  args: unknown[]
}

/** The results of the sequence running now with these calls (the checkpoint reads them). */
const progress = new WeakMap<readonly SequenceCall[], unknown[]>()

/**
 * Runs `calls` one after the other and returns their results in order, starting after the `done`
 * results (those of the calls a previous run finished).
 */
async function run(calls: readonly SequenceCall[], done: readonly unknown[] = []): Promise<unknown[]> {
  if (!Array.isArray(calls)) throw new TypeError('runSequence: expected the calls made by functionSequence()')
  const results = [...done]
  progress.set(calls, results)
  if (results.length > 0) console.error(`runSequence: resuming at call ${results.length + 1} of ${calls.length}`)
  for (let i = results.length; i < calls.length; i++) {
    const { task: ref, args } = calls[i]
    const fn = await loadTask(ref)
    results.push(await fn(...args))
  }
  return results
}

/**
 * The sequence task: `runSequence(calls, done)`. Its checkpoint returns the same calls and the
 * results so far, so a requeued job runs only the calls not done.
 */
export const runSequence = task(import.meta.url, run, {
  checkpoint: (calls, done = []) => [calls, [...(progress.get(calls) ?? done)]],
})

/**
 * One job running `items` in order, resolving to their results (R[]): submit it with
 * `ex.submitArray([await functionSequence([delayed(f, 1), delayed(g, 2)])])`, or spread it,
 * `ex.submit(seq.fn, ...seq.args)`. Inside withCodeSnapshot(), the calls run the snapshot's code.
 */
export async function functionSequence<R>(items: readonly Delayed<R>[]): Promise<Delayed<R[]>> {
  const refs = new Map<unknown, TaskRef>()
  const calls: SequenceCall[] = []
  for (const { fn, args } of items) {
    let ref = refs.get(fn)
    if (!ref) {
      const found = await resolveTask(fn)
      ref = { module: snapshotModule(found.module), exportName: found.exportName }
      refs.set(fn, ref)
    }
    calls.push({ task: ref, args })
  }
  return delayed(runSequence, calls, []) as unknown as Delayed<R[]>
}
