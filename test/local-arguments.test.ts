// Each job gets its own copy of its arguments, as a process on a node would: no job's writes reach
// another job or the caller, on the LocalExecutor and the DebugExecutor alike.
import t from 'tap'
import { DebugExecutor, delayed, LocalExecutor, taskRef } from '../dist/lib/index.js'
import { echo } from '../dist/fixtures/tasks.js'
import { bumpConfig, returnsModuleState, sameObject } from '../dist/fixtures/trust-tasks.js'
import { distUrl } from './helpers/paths.js'

const backends = [
  ['LocalExecutor', (folder: string) => new LocalExecutor({ folder, maxWorkers: 2 })],
  ['DebugExecutor', (folder: string) => new DebugExecutor({ folder })],
] as const

for (const [name, make] of backends) {
  t.test(`${name}: one config object for 100 jobs, each job writes into it: every job sees its own copy`, async (t) => {
    const ex = make(`${t.testdir()}/%j`)
    t.teardown(() => ex.shutdown())
    const config = { count: 0, seen: [] as number[] }
    const n = 100
    const jobs = await ex.mapArray(
      bumpConfig,
      Array(n).fill(config),
      Array.from({ length: n }, (_, i) => i),
    )
    const counts = await Promise.all(jobs.map((j) => j.result()))
    t.same(counts, Array(n).fill(1), 'every job started from count 0')
    t.same(config, { count: 0, seen: [] }, "the caller's object is untouched")
    // a job run again (its submission read again) gets the submitted value, not an earlier run's
    const again = await ex.submit(bumpConfig, config, 7)
    t.equal(await again.result(), 1)
  })

  t.test(`${name}: f(o, o) gets one object, also when o holds a URL`, async (t) => {
    const ex = make(`${t.testdir()}/%j`)
    t.teardown(() => ex.shutdown())
    const plain = { a: 1 }
    const withUrl = { url: new URL('https://example.org/x') }
    t.same(await (await ex.submit(sameObject, plain, plain)).result(), { same: true, hasUrl: false })
    t.same(await (await ex.submit(sameObject, withUrl, withUrl)).result(), { same: true, hasUrl: true })
    t.same(await (await ex.submit(sameObject, withUrl, { ...withUrl })).result(), { same: false, hasUrl: true })
    const jobs = await ex.mapArray(sameObject, [withUrl, withUrl], [withUrl, plain])
    t.same(await Promise.all(jobs.map((j) => j.result())), [
      { same: true, hasUrl: true },
      { same: false, hasUrl: true },
    ])
  })

  t.test(`${name}: a result is the value as its task returned it, even when a later job of the thread changes that object`, async (t) => {
    const ex = make(`${t.testdir()}/%j`)
    t.teardown(() => ex.shutdown())
    const n = 300
    // an earlier array of the task: this one goes in chunks of many elements from the start
    await Promise.all(
      (
        await ex.mapArray(
          returnsModuleState,
          Array.from({ length: n }, (_, i) => i),
        )
      ).map((j) => j.wait()),
    )
    const jobs = await ex.mapArray(
      returnsModuleState,
      Array.from({ length: n }, (_, i) => i),
    )
    const seen = (await Promise.all(jobs.map((j) => j.result()))).map((r) => `thread ${r.thread} run ${r.runs}`)
    t.equal(new Set(seen).size, n, 'every job saw a run count of its own')
  })

  t.test(`${name}: the arguments are taken when submit() is called: a loop changing one object between unawaited submits`, async (t) => {
    const ex = make(`${t.testdir()}/%j`)
    t.teardown(() => ex.shutdown())
    // a task looked up for the first time (a fresh reference: its module is imported while the caller goes on), then a known one
    for (const fn of [taskRef<typeof echo>(distUrl('fixtures/tasks.js'), 'echo'), echo]) {
      const config = { lr: -1, tags: ['x'] }
      const submitted = []
      for (let lr = 0; lr < 4; lr++) {
        config.lr = lr
        config.tags.push(`t${lr}`)
        submitted.push(ex.submit(fn, config))
      }
      const arrays = ex.mapArray(fn, [config])
      const delayedOnes = ex.submitArray([delayed(fn, config)])
      config.lr = 99
      const jobs = [...(await Promise.all(submitted)), ...(await arrays), ...(await delayedOnes)]
      const seen = (await Promise.all(jobs.map((j) => j.result()))).map((c) => (c as typeof config).lr)
      t.same(seen, [0, 1, 2, 3, 3, 3], `each job has the value of its call (${typeof fn === 'function' ? 'a known task' : 'a task looked up'})`)
      t.same(((await jobs[1].result()) as typeof config).tags, ['x', 't0', 't1'])
    }
    // the parameters too: the call's, not those set right after it
    const pending = ex.submit(echo, 1)
    ex.updateParameters({ tasksPerNode: 2 })
    t.equal((await pending).numTasks, 1, 'submitted with the parameters of its call')
    ex.updateParameters({ tasksPerNode: null })
  })
}
