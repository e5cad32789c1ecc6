// Re-attaching a job by folder and id: from this process and from another one, while it runs,
// after it ended, and after its submitting process died.
import path from 'node:path'
import t from 'tap'
import { attachJob, FailedJobError, LocalExecutor } from '../dist/lib/index.js'
import { busyMs, chatty, fails, movePoint, Point, sleepMs, square } from '../dist/fixtures/tasks.js'
import { distUrl } from './helpers/paths.js'
import { runNode, startNode, writeScript } from './helpers/processes.js'
import { rejection, until } from './helpers/waiting.js'

const ATTACH_SCRIPT = `
import { attachJob } from ${JSON.stringify(distUrl('lib/index.js'))}
const [folder, jobId] = process.argv.slice(2)
const job = attachJob(folder, jobId)
const before = job.state
const out = { before }
try {
  const r = await job.result()
  out.result = r
  out.className = r?.constructor?.name
  if (typeof r?.norm === 'function') out.norm = r.norm()
} catch (e) {
  out.error = e.message
  out.errorName = e.name
  out.remoteStack = e.remoteStack
}
out.state = job.state
out.stdout = job.stdout()
console.log(JSON.stringify(out))
`

function attachScript(dir: string): string {
  return writeScript(dir, 'attach.mjs', ATTACH_SCRIPT)
}

async function attachFromAnotherProcess(script: string, folder: string, jobId: string): Promise<Record<string, unknown>> {
  const r = await runNode([script, folder, jobId], { timeoutMs: 60_000 })
  if (r.code !== 0) throw new Error(`attach process exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>
}

t.test('attachJob in the same process reads state, result, logs and submission', async (t) => {
  const dir = t.testdir()
  const folder = path.join(dir, '%j')
  const ex = new LocalExecutor({ folder, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const job = await ex.submit(chatty, 5)
  await job.wait()
  const again = attachJob<number>(folder, job.jobId)
  t.not(again, job)
  t.equal(again.jobId, job.jobId)
  t.equal(again.state, 'COMPLETED')
  t.equal(await again.result(), 5)
  t.equal(again.stdout(), 'out 5\n')
  t.equal(again.stderr(), 'err 5\n')
  t.same((await again.submission()).args, [5])
  t.equal((await again.submission()).task.exportName, 'chatty')

  const failed = await ex.submit(fails, 'attached failure')
  await failed.wait()
  const f = attachJob(folder, failed.jobId)
  t.equal(f.state, 'FAILED')
  const e = await f.exception()
  t.type(e, FailedJobError)
  t.match(e!.remoteStack, /fixtures[\\/]tasks/)
  t.equal((e!.cause as { code?: string }).code, 'E_BAD')
  await f.cancel() // a finished job: nothing to cancel, nothing changes
  t.equal(f.state, 'FAILED')

  t.throws(() => attachJob(folder, 'nosuchjob'), /cannot attach job nosuchjob: there is no submission file .*nosuchjob_submitted\.v8.*submit it again/s)
})

t.test('attachJob from a second process: a finished job, an array element, a class instance', async (t) => {
  const dir = t.testdir()
  const folder = path.join(dir, '%j')
  const script = attachScript(dir)
  const ex = new LocalExecutor({ folder, maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  const job = await ex.submit(chatty, 9)
  await job.wait()
  const one = await attachFromAnotherProcess(script, folder, job.jobId)
  t.same(one, { before: 'COMPLETED', result: 9, className: 'Number', state: 'COMPLETED', stdout: 'out 9\n' })

  const jobs = await ex.mapArray(
    square,
    Array.from({ length: 100 }, (_, i) => i),
  )
  await Promise.all(jobs.map((j) => j.wait()))
  const el = await attachFromAnotherProcess(script, folder, jobs[57].jobId)
  t.equal(el.result, 57 * 57, 'an array element, read from its chunk file')

  const moved = await ex.submit(movePoint, new Point(3, 0), 1)
  await moved.wait()
  const p = await attachFromAnotherProcess(script, folder, moved.jobId)
  t.equal(p.className, 'Point', 'a registered class comes back as itself in another process')
  t.equal(p.norm, 4)

  const failed = await ex.submit(fails, 'from afar')
  await failed.wait()
  const f = await attachFromAnotherProcess(script, folder, failed.jobId)
  t.equal(f.state, 'FAILED')
  t.equal(f.errorName, 'FailedJobError')
  t.match(f.error, /ValidationError: from afar/)
  t.match(f.remoteStack, /fixtures[\\/]tasks/)
})

t.test('attachJob from a second process waits for a running job', async (t) => {
  const dir = t.testdir()
  const folder = path.join(dir, '%j')
  const script = attachScript(dir)
  const ex = new LocalExecutor({ folder, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const job = await ex.submit(sleepMs, 6000, 77)
  const r = await attachFromAnotherProcess(script, folder, job.jobId)
  t.match(r.before, /^(PENDING|RUNNING)$/, `not final when attached (${String(r.before)})`)
  t.equal(r.result, 77, 'waited for the result')
  t.equal(r.state, 'COMPLETED')
})

const SUBMITTER = (folder: string) => `
import { LocalExecutor } from ${JSON.stringify(distUrl('lib/index.js'))}
import { busyMs } from ${JSON.stringify(distUrl('fixtures/tasks.js'))}
const ex = new LocalExecutor({ folder: ${JSON.stringify(folder)}, maxWorkers: 1 })
const job = await ex.submit(busyMs, 120000)
while (job.state !== 'RUNNING') await new Promise((r) => setTimeout(r, 10))
console.log('JOB ' + job.jobId)
await job.result()
`

t.test('a job whose submitting process died without a result is FAILED when attached', async (t) => {
  const dir = t.testdir()
  const folder = path.join(dir, '%j')
  const script = writeScript(dir, 'submitter.mjs', SUBMITTER(folder))
  const { child, match } = await startNode([script], /JOB (\S+)\n/)
  const jobId = match[1]
  const job = attachJob(folder, jobId)
  t.match(job.state, /^(PENDING|RUNNING)$/, `live owner: not final (${job.state})`)
  // the owner says what it runs within a moment (<A>_running.json)
  await until(() => job.state === 'RUNNING', 10_000, 'the attached handle to see it RUNNING, as the owner does')
  await t.rejects(job.cancel(), /runs in another process \(pid \d+ on \S+\); cancel it from there/, 'a running local job is cancelled by its own process')
  const exited = new Promise((r) => child.on('exit', r))
  child.kill('SIGKILL')
  await exited
  await until(() => job.state !== 'PENDING' && job.state !== 'RUNNING', 10_000, 'the attached job to end')
  t.equal(job.state, 'FAILED')
  const e = (await rejection(job.result())) as FailedJobError
  t.type(e, FailedJobError)
  t.match(e.message, /ended as FAILED without writing its result file/)
  // and from a fresh process
  const r = await attachFromAnotherProcess(attachScript(dir), folder, jobId)
  t.equal(r.before, 'FAILED')
  t.equal(r.state, 'FAILED')
})

void busyMs
