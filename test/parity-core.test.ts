// submitit parity, the executor core (core.py): an empty mapArray/submitArray warns, as submitit's
// "Received an empty job array", on every executor; inside batch() it joins the batch (which warns
// if it stays empty) instead.
import t from 'tap'
import { DebugExecutor, LocalExecutor } from '../dist/lib/index.js'
import { add } from '../dist/fixtures/tasks.js'

/** The warnings emitted while `fn` runs (a warning is emitted on the next tick). */
async function warningsOf(fn: () => Promise<unknown>): Promise<{ code?: string; message: string }[]> {
  const seen: { code?: string; message: string }[] = []
  const listener = (w: Error & { code?: string }) => seen.push({ code: w.code, message: w.message })
  process.on('warning', listener)
  try {
    await fn()
    await new Promise((r) => setImmediate(r))
  } finally {
    process.off('warning', listener)
  }
  return seen
}

const backends = [
  ['LocalExecutor', (folder: string) => new LocalExecutor({ folder, maxWorkers: 1 })],
  ['DebugExecutor', (folder: string) => new DebugExecutor({ folder })],
] as const

for (const [name, make] of backends) {
  t.test(`${name}: an empty mapArray or submitArray submits nothing and warns`, async (t) => {
    const ex = make(`${t.testdir()}/%j`)
    t.teardown(() => ex.shutdown())
    let jobs: unknown
    const fromMap = await warningsOf(async () => {
      jobs = await ex.mapArray(add, [], [])
    })
    t.same(jobs, [])
    t.same(fromMap, [{ code: 'SUBMITIT_EMPTY_ARRAY', message: 'mapArray/submitArray got no elements: no job was submitted' }])
    const fromArray = await warningsOf(async () => {
      jobs = await ex.submitArray([])
    })
    t.same(jobs, [])
    t.same(
      fromArray.map((w) => w.code),
      ['SUBMITIT_EMPTY_ARRAY'],
    )
    const inBatch = await warningsOf(async () => {
      jobs = await ex.batch(() => {
        ex.mapArray(add, [], [])
        ex.submit(add, 1, 2)
      })
    })
    t.same(inBatch, [], 'inside a batch that submits something: no warning')
    t.equal(await (jobs as { result(): Promise<number> }[])[0]!.result(), 3)
    const none = await warningsOf(async () => {
      await ex.mapArray(add, [1], [2])
    })
    t.same(none, [], 'no warning for an array with elements')
  })
}
