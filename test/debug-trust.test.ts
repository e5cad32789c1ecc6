// The DebugExecutor behaves as submitit's: polling done() runs the job, a job nobody asked for reads
// PENDING, timeoutMin is refused (a task in this thread cannot be stopped), a failure never hangs.
import fs from 'node:fs'
import t from 'tap'
import { AutoExecutor, DebugExecutor, FailedJobError, ParameterError } from '../dist/lib/index.js'
import { add, fails } from '../dist/fixtures/tasks.js'
import { throwsObject } from '../dist/fixtures/trust-tasks.js'
import { distUrl } from './helpers/paths.js'
import { runNode, writeScript } from './helpers/processes.js'
import { rejection } from './helpers/waiting.js'

t.test('polling done() runs the job; a job nobody asked for stays PENDING', async (t) => {
  const ex = new DebugExecutor({ folder: `${t.testdir()}/%j` })
  const [a, b] = await ex.mapArray(add, [1, 2], [1, 2])
  t.equal(a.state, 'PENDING')
  let polls = 0
  while (!a.done()) {
    polls++
    await new Promise((r) => setTimeout(r, 5))
    if (polls > 2000) break
  }
  t.ok(polls < 2000, 'done() became true')
  t.equal(a.state, 'COMPLETED')
  t.equal(await a.result(), 2)
  t.equal(b.state, 'PENDING', 'the other job was not run')
  await b.cancel()
  t.equal(b.state, 'CANCELLED')
})

t.test('timeoutMin is refused on the DebugExecutor, with what to do; AutoExecutor leaves it out', async (t) => {
  const e = (() => {
    try {
      new DebugExecutor({ folder: t.testdir(), timeoutMin: 1 } as never)
      return null
    } catch (x) {
      return x as Error
    }
  })()
  t.type(e, ParameterError)
  t.match(e?.message, /cannot be honoured.*LocalExecutor/)
  const ok = new DebugExecutor({ folder: t.testdir(), timeoutMin: undefined } as never)
  t.ok(ok, 'timeoutMin: undefined means unset')
  const auto = new AutoExecutor({ folder: `${t.testdir()}/%j`, cluster: 'debug', timeoutMin: 5 })
  t.equal(await (await auto.submit(add, 2, 3)).result(), 5)
})

t.test('a job whose submission vanished before it ran ends FAILED, never RUNNING for ever', async (t) => {
  const ex = new DebugExecutor({ folder: `${t.testdir()}/%j` })
  const job = await ex.submit(add, 1, 1)
  fs.rmSync(job.paths.submitted)
  const e = await rejection(job.result())
  t.type(e, FailedJobError)
  t.equal(job.state, 'FAILED')
})

t.test('a task that throws a non-Error: the message shows what was thrown', async (t) => {
  const ex = new DebugExecutor({ folder: `${t.testdir()}/%j` })
  const e = (await rejection((await ex.submit(throwsObject, 42)).result())) as FailedJobError
  t.match(e.message, /\{ code: 42, detail: 'not an Error' \} \(thrown, not an Error\)/)
  t.notMatch(e.message, /\[object Object\]/)
  const f = await rejection((await ex.submit(fails, 'x')).result())
  t.match(f.message, /ValidationError: x/)
})

t.test("a task's unhandled rejection or late throw fails its job, not the caller; the caller's own errors are still fatal", async (t) => {
  const dir = t.testdir()
  const script = (own: string) =>
    writeScript(
      dir,
      `main-${own}.mjs`,
      `
    import { DebugExecutor } from ${JSON.stringify(distUrl('lib/index.js'))}
    import { add, throwsLater } from ${JSON.stringify(distUrl('fixtures/tasks.js'))}
    import { leavesRejection, waitThenReturn } from ${JSON.stringify(distUrl('fixtures/trust-tasks.js'))}
    const ex = new DebugExecutor({ folder: ${JSON.stringify(`${dir}/%j`)} })
    if (${JSON.stringify(own)} === 'none') {
      const jobs = [...(await ex.mapArray(leavesRejection, [1, 2])), await ex.submit(throwsLater, 'late boom')]
      for (const j of jobs) await j.result().then((v) => console.log('value ' + v), (e) => console.log(j.state + ': ' + e.message.split('\\n')[0]))
      console.log('after: ' + (await (await ex.submit(add, 20, 22)).result()))
    } else {
      // the caller's own, while a debug job runs: as fatal as without the executor
      const job = await ex.submit(waitThenReturn, 500, 1)
      setTimeout(() => { if (${JSON.stringify(own)} === 'throw') throw new Error('own error'); Promise.reject(new Error('own rejection')) }, 50)
      console.log('value ' + (await job.result()))
    }
  `,
    )
  const r = await runNode([script('none')])
  t.equal(r.code, 0, `the caller lives (stderr: ${r.stderr.slice(-500)})`)
  t.match(r.stdout, /FAILED: job \S+_0 failed: Error: rejection left by job 1/)
  t.match(r.stdout, /FAILED: job \S+_1 failed: Error: rejection left by job 2/)
  t.match(r.stdout, /FAILED: job \S+ failed: Error: late boom/)
  t.match(r.stdout, /after: 42/)
  for (const own of ['throw', 'reject']) {
    const r2 = await runNode([script(own)])
    t.equal(r2.code, 1, `the caller's own ${own} ends it, as Node does`)
    t.match(r2.stderr, own === 'throw' ? /own error/ : /own rejection/)
    t.notMatch(r2.stdout, /value 1/)
  }
})
