// A script that submitted jobs exits by itself once it has its results (no shutdown() call).
import t from 'tap'
import { distUrl } from './helpers/paths.js'
import { runNode, writeScript } from './helpers/processes.js'

const imports = `
import { LocalExecutor, DebugExecutor } from ${JSON.stringify(distUrl('lib/index.js'))}
import { add, busyMs, fails, sleepMs, square } from ${JSON.stringify(distUrl('fixtures/tasks.js'))}
const folder = process.argv[2] + '/%j'
`

const cases: [string, string][] = [
  [
    'submit and mapArray',
    `
    const ex = new LocalExecutor({ folder, maxWorkers: 2 })
    const one = await (await ex.submit(add, 1, 2)).result()
    const many = await Promise.all((await ex.mapArray(square, [1, 2, 3, 4])).map((j) => j.result()))
    console.log('RESULT ' + JSON.stringify([one, many]))`,
  ],
  [
    'a failed job',
    `
    const ex = new LocalExecutor({ folder, maxWorkers: 1 })
    const e = await (await ex.submit(fails, 'x')).exception()
    console.log('RESULT ' + JSON.stringify(e.state))`,
  ],
  [
    'a timed-out and a cancelled job',
    `
    const ex = new LocalExecutor({ folder, maxWorkers: 1, timeoutMin: 0.005 })
    const slow = await ex.submit(busyMs, 60000)
    const queued = await ex.submit(add, 1, 1)
    await queued.cancel()
    await slow.wait()
    console.log('RESULT ' + JSON.stringify([slow.state, queued.state]))`,
  ],
  [
    'jobs that take a while (the process must not exit before their results)',
    `
    const ex = new LocalExecutor({ folder, maxWorkers: 2 })
    const a = await ex.submit(sleepMs, 2000, 5)
    const b = await ex.submit(busyMs, 1500)
    console.log('RESULT ' + JSON.stringify([await a.result(), await b.result()]))`,
  ],
  [
    'the DebugExecutor',
    `
    const ex = new DebugExecutor({ folder })
    console.log('RESULT ' + JSON.stringify(await (await ex.submit(add, 2, 2)).result()))`,
  ],
]
const expected = ['[3,[1,4,9,16]]', '"FAILED"', '["TIMEOUT","CANCELLED"]', '[5,1500]', '4']

cases.forEach(([name, body], i) => {
  t.test(`exits by itself: ${name}`, async (t) => {
    const dir = t.testdir()
    const script = writeScript(dir, 'script.mjs', imports + body)
    const r = await runNode([script, dir], { timeoutMs: 20_000 })
    t.equal(r.signal, null, `exited by itself within 20 s (took ${r.ms} ms; killed: ${r.signal})`)
    t.equal(r.code, 0, `exit code 0 ${r.stderr}`)
    t.match(r.stdout, `RESULT ${expected[i]}`)
  })
})
