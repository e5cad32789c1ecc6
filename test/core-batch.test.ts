// batch() errors are ordinary errors: a bad argument rejects batch() and the caller goes on; awaiting
// a submit inside batch() fails at once and never wedges the executor; mapArray/submitArray inside
// batch() join its array; updateParameters inside it throws; an empty batch warns.
import path from 'node:path'
import t from 'tap'
import { DebugExecutor, delayed, LocalExecutor } from '../dist/lib/index.js'
import { add, echo } from '../dist/fixtures/tasks.js'
import { distUrl } from './helpers/paths.js'
import { runNode, writeScript } from './helpers/processes.js'
import { rejection } from './helpers/waiting.js'

const backends = [
  ['LocalExecutor', (folder: string) => new LocalExecutor({ folder, maxWorkers: 2 })],
  ['DebugExecutor', (folder: string) => new DebugExecutor({ folder })],
] as const

t.test('a bad argument inside batch() is an ordinary error: the caller catches it and goes on (real process)', async (t) => {
  const dir = t.testdir()
  const script = writeScript(
    dir,
    'main.mjs',
    `
    import { LocalExecutor } from ${JSON.stringify(distUrl('lib/index.js'))}
    import { add } from ${JSON.stringify(distUrl('fixtures/tasks.js'))}
    const ex = new LocalExecutor({ folder: ${JSON.stringify(path.join(dir, '%j'))}, maxWorkers: 1 })
    try {
      await ex.batch(() => { ex.submit(add, 1, 2); ex.submit(add, 1, () => 2) })
    } catch (e) {
      console.log('caught: ' + e.message.split('\\n')[0])
    }
    await new Promise((r) => setTimeout(r, 200)) // let any unhandled rejection surface
    const job = await ex.submit(add, 20, 22)
    console.log('after: ' + await job.result())
  `,
  )
  const r = await runNode([script])
  t.equal(r.code, 0, `exits 0 (stderr: ${r.stderr})`)
  t.match(r.stdout, /caught: argument 2 of add \(element 1\)/)
  t.match(r.stdout, /after: 42/)
  t.notMatch(r.stderr, /Unhandled|unhandled/)
})

for (const [name, make] of backends) {
  t.test(`${name}: awaiting submit() inside batch() fails at once and never wedges the executor`, async (t) => {
    const ex = make(`${t.testdir()}/%j`)
    t.teardown(() => ex.shutdown())
    const e = await rejection(
      ex.batch(async () => {
        const job = await ex.submit(add, 1, 2)
        await job.result()
      }),
    )
    t.match(e.message, /do not await submit\(\) \(or mapArray\) inside it/)
    // caught inside: batch() still rejects, and submits nothing
    const e2 = await rejection(
      ex.batch(async () => {
        ex.submit(add, 5, 5)
        await Promise.all([ex.submit(add, 1, 2)]).catch(() => {})
      }),
    )
    t.match(e2.message, /exists only once the batch is submitted/)
    // the executor goes on: a batch, a submit, a mapArray
    const jobs = await ex.batch(() => {
      ex.submit(add, 1, 1)
      ex.submit(add, 2, 2)
    })
    t.same(await Promise.all(jobs.map((j) => j.result())), [2, 4])
    t.equal(await (await ex.submit(add, 3, 3)).result(), 6)
    t.same(await Promise.all((await ex.mapArray(add, [1], [1])).map((j) => j.result())), [2])
  })

  t.test(`${name}: mapArray and submitArray inside batch() join its one array`, async (t) => {
    const ex = make(`${t.testdir()}/%j`)
    t.teardown(() => ex.shutdown())
    let fromMap: Promise<unknown[]> | undefined
    let fromArray: Promise<unknown[]> | undefined
    let single: Promise<unknown> | undefined
    const jobs = await ex.batch(() => {
      single = ex.submit(add, 0, 0)
      fromMap = ex.mapArray(add, [1, 2], [10, 20])
      fromArray = ex.submitArray([delayed(add, 100, 1)])
    })
    t.equal(jobs.length, 4)
    t.equal(new Set(jobs.map((j) => j.jobId.split('_')[0])).size, 1, 'one array')
    t.same(await Promise.all(jobs.map((j) => j.result())), [0, 11, 22, 101])
    t.equal(await single, jobs[0])
    t.same(await fromMap, jobs.slice(1, 3))
    t.same(await fromArray, jobs.slice(3))
  })

  t.test(`${name}: updateParameters inside batch() throws; nested batch() throws; an empty batch warns`, async (t) => {
    const ex = make(`${t.testdir()}/%j`)
    t.teardown(() => ex.shutdown())
    const e = await rejection(
      ex.batch(() => {
        ex.submit(add, 1, 1)
        ex.updateParameters({ nodes: 1 })
      }),
    )
    t.match(e.message, /updateParameters\(\) cannot be called inside batch\(\)/)
    const nested = await rejection(
      ex.batch(async () => {
        await ex.batch(() => {})
      }),
    )
    t.match(nested.message, /cannot be nested/)
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(w.message)
    process.on('warning', onWarning)
    t.same(await ex.batch(() => {}), [])
    await new Promise((r) => setTimeout(r, 20))
    process.off('warning', onWarning)
    t.match(warnings.join('\n'), /batch\(\) submitted no job/)
    ex.updateParameters({ nodes: 1 }) // fine outside
  })

  t.test(`${name}: batch(fn, { allowImplicitSubmissions: true }): awaiting a job submits what was gathered`, async (t) => {
    const ex = make(`${t.testdir()}/%j`)
    t.teardown(() => ex.shutdown())
    let firstResult: number | undefined
    const jobs = await ex.batch(
      async () => {
        ex.submit(add, 1, 1)
        const second = await ex.submit(add, 2, 2) // submits the two so far as one array
        firstResult = await second.result()
        ex.submit(add, 3, 3)
      },
      { allowImplicitSubmissions: true },
    )
    t.equal(firstResult, 4)
    t.equal(jobs.length, 1, 'batch() resolves to the jobs submitted at its end')
    t.equal(await jobs[0].result(), 6)
  })
}

t.test('a submit from another async flow while a batch is open is not part of it', async (t) => {
  const ex = new LocalExecutor({ folder: `${t.testdir()}/%j`, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  let release!: () => void
  const gate = new Promise<void>((r) => (release = r))
  const open = ex.batch(async () => {
    ex.submit(add, 1, 1)
    await gate
  })
  // submitted from outside the batch's callback while it is open: a job of its own, at once
  const independent = await ex.submit(add, 7, 7)
  t.equal(await independent.result(), 14)
  t.notMatch(independent.jobId, /_\d+$/, 'a single job, not an element of the batch')
  release()
  const jobs = await open
  t.equal(jobs.length, 1)
  t.equal(await jobs[0].result(), 2)
})

for (const [name, make] of backends) {
  t.test(`${name}: inside batch(), each submit takes its arguments as they are at its call`, async (t) => {
    const ex = make(`${t.testdir()}/%j`)
    t.teardown(() => ex.shutdown())
    const config = { lr: -1 }
    const shared = { big: 'x'.repeat(100) }
    const jobs = await ex.batch(() => {
      for (let lr = 0; lr < 3; lr++) {
        config.lr = lr
        ex.submit(echo, { config, shared })
      }
      ex.mapArray(echo, [config, config])
      config.lr = 99
    })
    const seen = (await Promise.all(jobs.map((j) => j.result()))) as { lr?: number; config?: { lr: number } }[]
    t.same(
      seen.map((v) => v.config?.lr ?? v.lr),
      [0, 1, 2, 2, 2],
    )
  })
}

t.test('mapArray of 200,000 elements inside batch() joins it (no spread of its items on the stack)', async (t) => {
  const ex = new DebugExecutor({ folder: `${t.testdir()}/%j` })
  t.teardown(() => ex.shutdown())
  const n = 200_000
  const jobs = await ex.batch(() => {
    ex.mapArray(
      add,
      Array.from({ length: n }, (_, i) => i),
      Array(n).fill(1),
    )
  })
  t.equal(jobs.length, n)
  t.equal(await jobs[n - 1].result(), n)
})

for (const [name, make] of backends) {
  t.test(`${name}: a mapArray or submitArray refused inside batch() rejects batch(), never goes separately or unhandled`, async (t) => {
    const ex = make(`${t.testdir()}/%j`)
    t.teardown(() => ex.shutdown())
    const calls: [string, RegExp, () => void][] = [
      ['different lengths', /mapArray: the iterables have different lengths \(2, 1\)/, () => void ex.mapArray(add, [1, 2], [1])],
      ['not iterable', /mapArray: argument 2 is not iterable \(got number\)/, () => void ex.mapArray(add, 5 as unknown as number[], [1])],
      ['not an array', /submitArray takes an array of delayed\(task, \.\.\.args\), got number/, () => void ex.submitArray(5 as unknown as [])],
    ]
    for (const [what, message, call] of calls) {
      const e = await rejection(
        ex.batch(() => {
          ex.submit(add, 1, 2)
          call() // not awaited, as inside a batch
        }),
      )
      t.match(e.message, message, `${what}: batch() rejects with it`)
    }
    // outside a batch, a number is not taken for an empty iterable either
    t.match((await rejection(ex.mapArray(add, 5 as unknown as number[], [1]))).message, /argument 2 is not iterable/)
    t.equal(await (await ex.submit(add, 20, 22)).result(), 42, 'the executor goes on')
  })
}
