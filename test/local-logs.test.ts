// What a task prints goes to its own <jobId>_<t>_log.out/.err; a silent task creates no log file.
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { LocalExecutor } from '../dist/lib/index.js'
import { add, chatty } from '../dist/fixtures/tasks.js'
import { printLines } from '../dist/fixtures/core-tasks.js'
import { listFiles } from './helpers/files.js'

t.test('stdout and stderr of a task go to its log files', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const job = await ex.submit(chatty, 7)
  t.equal(await job.result(), 7)
  const out = path.join(folder, job.jobId, `${job.jobId}_0_log.out`)
  const err = path.join(folder, job.jobId, `${job.jobId}_0_log.err`)
  t.equal(job.paths.stdout(0), out, 'the log paths follow the folder template')
  t.equal(fs.readFileSync(out, 'utf8'), 'out 7\n')
  t.equal(fs.readFileSync(err, 'utf8'), 'err 7\n')
  t.equal(job.stdout(), 'out 7\n')
  t.equal(job.stderr(), 'err 7\n')

  const silent = await ex.submit(add, 1, 2)
  t.equal(await silent.result(), 3)
  t.same(
    listFiles(path.join(folder, silent.jobId)).filter((f) => f.includes('_log.')),
    [],
    'a silent task creates no log file',
  )
  t.equal(silent.stdout(), null)
  t.equal(silent.stderr(), null)
})

t.test('each element of an array gets its own logs, even when run in one chunk', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  const n = 60
  const jobs = await ex.mapArray(
    chatty,
    Array.from({ length: n }, (_, i) => i),
  )
  await Promise.all(jobs.map((j) => j.result()))
  for (let i = 0; i < n; i++) {
    if (jobs[i].stdout() !== `out ${i}\n` || jobs[i].stderr() !== `err ${i}\n`) {
      t.fail(`job ${i}: stdout ${JSON.stringify(jobs[i].stdout())}, stderr ${JSON.stringify(jobs[i].stderr())}`)
    }
  }
  t.pass(`${n} jobs, each with exactly its own output`)
  const arrayId = jobs[0].jobId.replace(/_0$/, '')
  const chunks = listFiles(folder)
    .map((f) => new RegExp(`${arrayId}_(\\d+)-(\\d+)_0_result`).exec(f))
    .filter((m) => m && m[1] !== m[2])
  t.ok(chunks.length > 0, 'some elements ran together in one chunk')
  // a task printing a lot: every line is there
  const big = await ex.submit(printLines, 5000, 'line')
  t.equal(await big.result(), 5000)
  const lines = big.stdout()!.split('\n')
  t.equal(lines.length, 5001)
  t.equal(lines[4999], 'line 4999')
  // the test process's own output is not captured into a job's log
  console.log('# printed by the test process')
  t.equal(big.stdout()!.includes('printed by the test process'), false)
})
