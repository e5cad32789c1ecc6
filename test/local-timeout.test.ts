// timeoutMin stops a task that runs too long (even a synchronous loop), and the pool goes on.
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { attachJob, FailedJobError, LocalExecutor } from '../dist/lib/index.js'
import { add, busyMs } from '../dist/fixtures/tasks.js'
import { blocksInSyscall } from '../dist/fixtures/trust-tasks.js'
import { rejection, until } from './helpers/waiting.js'
import { isAlive } from './helpers/processes.js'

t.test('a busy task past timeoutMin ends as TIMEOUT; the pool keeps working', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 1, timeoutMin: 0.002 }) // 120 ms
  t.teardown(() => ex.shutdown())
  const t0 = Date.now()
  const job = await ex.submit(busyMs, 30_000)
  const e = (await rejection(job.result())) as FailedJobError
  const elapsed = Date.now() - t0
  t.equal(job.state, 'TIMEOUT')
  t.type(e, FailedJobError)
  t.equal(e.state, 'TIMEOUT')
  t.match(e.message, /ended as TIMEOUT/)
  t.match(e.message, /TimeoutError/)
  t.match(e.message, /timeoutMin of 0\.002 min/)
  t.ok(elapsed < 20_000, `stopped long before the 30 s loop would end (${elapsed} ms)`)
  t.equal((await job.exception())?.state, 'TIMEOUT')
  // the outcome was written to the job's result file too, for another process to read
  t.ok(fs.existsSync(job.paths.resultFile(0)), "the TIMEOUT outcome is in the job's result file")
  const attached = attachJob(`${folder}/%j`, job.jobId)
  t.equal(attached.state, 'TIMEOUT', 'a re-attached handle reads TIMEOUT')

  // the same executor runs the next job (a fresh thread replaces the stopped one)
  ex.updateParameters({ timeoutMin: 5 })
  const next = await ex.submit(add, 20, 22)
  t.equal(await next.result(), 42)
  t.equal(next.state, 'COMPLETED')
})

t.test('in a mapArray only the slow element times out; the others complete', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 2, timeoutMin: 0.02 }) // 1.2 s
  t.teardown(() => ex.shutdown())
  const durations = Array.from({ length: 40 }, (_, i) => (i === 17 ? 60_000 : 2))
  const jobs = await ex.mapArray(busyMs, durations)
  await Promise.all(jobs.map((j) => j.wait()))
  const states = jobs.map((j) => j.state)
  t.equal(states[17], 'TIMEOUT')
  t.same(
    states.filter((s, i) => i !== 17 && s !== 'COMPLETED'),
    [],
    'every other job COMPLETED',
  )
  t.same(
    await Promise.all(jobs.filter((_, i) => i !== 17).map((j) => j.result())),
    durations.filter((_, i) => i !== 17),
  )
  t.equal((await jobs[17].exception())?.state, 'TIMEOUT')
})

t.test('why a job ended is a real class: TimeoutError, CancelledError, WorkerCrashError (also read back from disk)', async (t) => {
  const { TimeoutError, CancelledError, WorkerCrashError } = await import('../dist/lib/index.js')
  const { exits, sleepMs } = await import('../dist/fixtures/tasks.js')
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 1, timeoutMin: 0.005 })
  t.teardown(() => ex.shutdown())
  const slow = await ex.submit(busyMs, 30_000)
  t.type((await slow.exception())?.cause, TimeoutError)
  t.type((await attachJob(`${folder}/%j`, slow.jobId).exception())?.cause, TimeoutError, 'the same class from the file')
  ex.updateParameters({ timeoutMin: 5 })
  const waiting = await ex.submit(sleepMs, 60_000, 1)
  const queued = await ex.submit(sleepMs, 1, 2)
  await queued.cancel()
  t.type((await queued.exception())?.cause, CancelledError)
  await waiting.cancel()
  t.type((await waiting.exception())?.cause, CancelledError)
  const crashed = await ex.submit(exits, 2)
  t.type((await crashed.exception())?.cause, WorkerCrashError)
  t.type((await attachJob(`${folder}/%j`, crashed.jobId).exception())?.cause, WorkerCrashError)
})

t.test('a task blocked in a system call (execSync) ends TIMEOUT or CANCELLED without waiting for the call', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 2, timeoutMin: 0.01 }) // 0.6 s
  t.teardown(() => ex.shutdown())
  const [a, b] = [path.join(folder, 'a.pid'), path.join(folder, 'b.pid')]
  const timedOut = await ex.submit(blocksInSyscall, a, 300)
  ex.updateParameters({ timeoutMin: null })
  const cancelled = await ex.submit(blocksInSyscall, b, 300)
  const pidOf = (f: string) => (fs.existsSync(f) ? Number(fs.readFileSync(f, 'utf8')) || 0 : 0)
  await until(() => pidOf(a) > 0 && pidOf(b) > 0, 60_000, 'both calls to start')
  await cancelled.cancel()
  await timedOut.wait()
  t.equal(timedOut.state, 'TIMEOUT')
  t.equal(cancelled.state, 'CANCELLED')
  // the rescue waited a little for the stopped threads, not for their calls: both sleeps still run
  t.ok(isAlive(pidOf(a)) && isAlive(pidOf(b)), 'both jobs ended while their calls were still blocked')
  for (const f of [a, b]) if (pidOf(f) > 1) process.kill(pidOf(f)) // the threads return from their calls, and go
})
