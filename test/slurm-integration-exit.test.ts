// Against the real cluster: cancelAtExit on Ctrl-C and SIGTERM (real child processes, real
// signals), an element past the end of an array, empty log files, an outside scancel noticed.
import { execFileSync, spawn } from 'node:child_process'
import path from 'node:path'
import t from 'tap'
import { attachJob } from '../dist/lib/index.js'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { add, sleepMs, square } from '../dist/fixtures/tasks.js'
import { distUrl } from './helpers/paths.js'
import { plainEnv } from './helpers/processes.js'
import { needsCluster } from './slurm-cluster.js'

const skip = needsCluster(t)
const opts = { ...skip, timeout: 240_000 }

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  t.test(`cancelAtExit: ${signal} to the submitting process cancels its running job; the process dies of it`, opts, async (t) => {
    const folder = path.join(t.testdir(), '%j')
    const script = `
      import { SlurmExecutor } from ${JSON.stringify(distUrl('lib/index.js'))}
      import { sleepMs } from ${JSON.stringify(distUrl('fixtures/tasks.js'))}
      const ex = new SlurmExecutor({ folder: process.argv[1], cancelAtExit: true, timeoutMin: 5 })
      const job = await ex.submit(sleepMs, 120_000, 0)
      while (job.state !== 'RUNNING') await new Promise((r) => setTimeout(r, 100))
      console.log(job.jobId)
      await job.result()`
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, folder], { env: plainEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => {
      stderr += String(d)
    })
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_, s) => resolve(s)))
    const jobId = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => resolve(String(d).trim()))
      child.on('exit', () => reject(new Error(stderr)))
    })
    child.kill(signal)
    t.equal(await exited, signal, `it died of ${signal} ${stderr}`)
    const job = attachJob(folder, jobId)
    await job.wait({ timeoutMs: 120_000 })
    t.equal(job.state, 'CANCELLED', 'the job was cancelled')
  })
}

t.test('an element past the end of an array: attach says it does not exist, naming the range', opts, async (t) => {
  const folder = path.join(t.testdir(), 'logs')
  const jobs = await new SlurmExecutor({ folder, timeoutMin: 5 }).mapArray(
    square,
    Array.from({ length: 10 }, (_, i) => i),
  )
  const arrayId = jobs[0].paths.arrayId
  // no element may outlive the test: its folder goes at teardown, and a worker that finds no
  // submission waits 2 minutes for it (CI once saw the next test refuse to start under it)
  t.teardown(() => void execFileSync('scancel', [arrayId]))
  const ghost = attachJob(folder, `${arrayId}_999`)
  await t.rejects(ghost.result(), new RegExp(`${arrayId}_999 does not exist: array ${arrayId} has elements ${arrayId}_0\\.\\.${arrayId}_9`))
  t.equal(await attachJob<number>(folder, `${arrayId}_9`).result(), 81)
  t.same(
    await Promise.all(jobs.map((j) => j.result())),
    jobs.map((_, i) => i * i),
  )
})

t.test("logs on Slurm: the files exist from the start, empty for a task that printed nothing (stdout() is '')", opts, async (t) => {
  const job = await new SlurmExecutor({ folder: path.join(t.testdir(), '%j'), timeoutMin: 5 }).submit(add, 1, 2)
  t.equal(await job.result(), 3)
  t.equal(job.stdout(), '')
  t.equal(job.stderr(), '')
})

t.test('a job scancelled from outside is seen as CANCELLED (polling capped at 5 s)', opts, async (t) => {
  const job = await new SlurmExecutor({ folder: path.join(t.testdir(), '%j'), timeoutMin: 5 }).submit(sleepMs, 120_000, 0)
  for (let i = 0; i < 600 && job.state !== 'RUNNING'; i++) await new Promise((r) => setTimeout(r, 100))
  t.equal(job.state, 'RUNNING')
  await new Promise((r) => setTimeout(r, 15_000)) // the poll interval has grown to its cap
  const at = Date.now()
  execFileSync('scancel', [job.jobId])
  await job.wait({ timeoutMs: 60_000 })
  t.equal(job.state, 'CANCELLED')
  t.comment(`seen ${((Date.now() - at) / 1000).toFixed(1)} s after the scancel`)
})
