// Compile-time checks of the typed API, type-checked by test/core-types.test.ts with
// `tsc --noEmit -p test/tsconfig.types.json`. Each @ts-expect-error line must be an error: if the
// API accepted it, tsc would report the directive as unused (TS2578) and the test would fail.
import { delayed, type LocalExecutor, taskRef, type Job } from '../../dist/lib/index.js'
import { add, sleepMs, square, train } from '../../dist/fixtures/tasks.js'

export async function checks(ex: LocalExecutor): Promise<void> {
  const job: Job<number> = await ex.submit(add, 1, 2)
  const n: number = await job.result()
  // @ts-expect-error a string argument where a number is expected
  await ex.submit(add, 'x', 1)
  // @ts-expect-error a missing argument
  await ex.submit(add, 1)
  // @ts-expect-error one argument too many
  await ex.submit(add, 1, 2, 3)
  // @ts-expect-error the result of add is a number, not a string
  const s: string = await job.result()

  // an async task's job gives the awaited value
  const slept: number = await (await ex.submit(sleepMs, 1, 2)).result()
  // @ts-expect-error not a Promise
  const p: Promise<number> = await (await ex.submit(sleepMs, 1, 2)).result()
  const trained: { loss: number; epochs: number } = await (await ex.submit(train, 0.1, 3)).result()

  const jobs: Job<number>[] = await ex.mapArray(add, [1, 2], [3, 4])
  // @ts-expect-error the second iterable holds strings
  await ex.mapArray(add, [1, 2], ['a', 'b'])
  // @ts-expect-error square takes one iterable
  await ex.mapArray(square, [1, 2], [3, 4])

  const items = [delayed(add, 1, 2), delayed(square, 3)]
  const arr: Job<number>[] = await ex.submitArray(items)
  // @ts-expect-error wrong argument type in delayed()
  delayed(add, 'x', 1)

  const ref = taskRef<typeof add>('file:///x.js', 'add')
  const viaRef: Job<number> = await ex.submit(ref, 1, 2)
  // @ts-expect-error a typed reference checks arguments too
  await ex.submit(ref, 'x', 1)
  // @ts-expect-error a plain function is not a task
  await ex.submit((a: number) => a, 1)

  // @ts-expect-error unknown parameter name
  ex.updateParameters({ timeoutMn: 1 })
  ex.updateParameters({ timeoutMin: 1, maxWorkers: 2 })

  void [n, s, slept, p, trained, jobs, arr, viaRef]
}
