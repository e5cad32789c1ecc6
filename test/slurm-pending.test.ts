// Pending jobs say why they wait (job.reason, String(job), the CLI), a job Slurm says can never start
// makes wait()/result() reject naming the reason, and waits take a timeout; against the fake Slurm
// commands (sacct prints the rows a test writes). The real cluster: slurm-integration-pending.
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import t from 'tap'
import { FailedJobError } from '../dist/lib/index.js'
import { JobNeverRunsError } from '../dist/lib/slurm/errors.js'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { isNeverRunnable, parseSacct } from '../dist/lib/slurm/parse.js'
import { WaitTimeoutError } from '../dist/lib/core/job.js'
import { add } from '../dist/fixtures/tasks.js'
import { fakeSlurm } from './helpers/fake-slurm.js'
import { CLI, distUrl, FAKE_SLURM_BIN } from './helpers/paths.js'

t.test("a pending job's reason from squeue: sacct's lags (it kept Dependency while squeue said DependencyNeverSatisfied)", async (t) => {
  const dir = t.testdir()
  const f = fakeSlurm(dir)
  const ex = new SlurmExecutor({ folder: path.join(dir, 'logs'), commands: f.commands })
  const job = await ex.submit(add, 1, 2)
  f.write('sacct.txt', '1000|PENDING|0:0|Dependency\n')
  f.write('squeue.txt', '1000|PENDING|DependencyNeverSatisfied\n')
  const e = await job.wait({ timeoutMs: 30_000 }).then(
    () => null,
    (err: Error) => err,
  )
  t.type(e, JobNeverRunsError, String(e))
  t.match(e?.message, /DependencyNeverSatisfied/)
  t.same(f.cancelled(), ['1000'])
})

t.test("sacct's Reason column and the list of reasons that never pass", async (t) => {
  const m = parseSacct('12|PENDING|0:0|DependencyNeverSatisfied\n13_[1-3]|PENDING|0:0|Resources\n14|RUNNING|0:0|None\n15|COMPLETED|0:0\n')
  t.equal(m.get('12')?.reason, 'DependencyNeverSatisfied')
  t.equal(m.get('13_2')?.reason, 'Resources')
  t.equal(m.get('14')?.reason, 'None')
  t.equal(m.get('15')?.reason, undefined)
  t.equal(m.get('15')?.exitCode, 0)
  for (const r of [
    'DependencyNeverSatisfied',
    'BadConstraints',
    'PartitionNodeLimit',
    'PartitionConfig',
    'PartitionTimeLimit',
    'QOSMaxCpuPerJobLimit',
    'AssocMaxWallDurationPerJobLimit',
  ])
    t.ok(isNeverRunnable(r), r)
  for (const r of ['Resources', 'Priority', 'BeginTime', 'Dependency', 'JobHeldUser', 'ReqNodeNotAvail, Reserved for maintenance', 'None', undefined])
    t.notOk(isNeverRunnable(r), String(r))
})

t.test('a job that can never start: result() and wait() reject naming the reason, the job is cancelled', async (t) => {
  const dir = t.testdir()
  const f = fakeSlurm(dir)
  const ex = new SlurmExecutor({ folder: path.join(dir, 'logs'), commands: f.commands })
  const job = await ex.submit(add, 1, 2)
  f.write('sacct.txt', '1000|PENDING|0:0|DependencyNeverSatisfied\n')
  const e = await job.result().then(
    () => null,
    (err: Error) => err,
  )
  t.type(e, JobNeverRunsError)
  t.type(e, FailedJobError, 'a FailedJobError like any failed job')
  t.match(e?.message, /job 1000 can never start: Slurm keeps it PENDING with reason DependencyNeverSatisfied; it was cancelled/)
  t.same(f.cancelled(), ['1000'], 'scancel, once')
  t.equal(job.state, 'CANCELLED')
  t.equal(job.reason, 'DependencyNeverSatisfied')
  t.equal(String(job), 'Job<1000, CANCELLED (DependencyNeverSatisfied)>')
  await t.rejects(job.wait(), JobNeverRunsError, 'wait() too, every time')
  t.type(await job.exception(), JobNeverRunsError, 'exception() returns it')
})

t.test('an attached job that can never start: rejected too, but not cancelled by a process that only looks', async (t) => {
  const dir = t.testdir()
  const f = fakeSlurm(dir)
  const folder = path.join(dir, 'logs')
  await new SlurmExecutor({ folder, commands: f.commands }).submit(add, 1, 2)
  f.write('sacct.txt', '1000|PENDING|0:0|PartitionNodeLimit\n')
  const script = `
    import { attachJob } from ${JSON.stringify(distUrl('lib/index.js'))}
    const job = attachJob(process.argv[1], '1000')
    const e = await job.wait().then(() => 'resolved', (e) => e.name + ': ' + e.message)
    console.log(JSON.stringify({ e, state: job.state, text: String(job) }))`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, folder], {
    env: { ...f.env, SUBMITIT_SLURM_BIN_DIR: FAKE_SLURM_BIN },
    encoding: 'utf8',
    timeout: 60_000,
  })
  t.equal(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout)
  t.match(out.e, /^JobNeverRunsError: job 1000 can never start: .*PartitionNodeLimit; it is left in the queue/)
  t.equal(out.state, 'PENDING')
  t.equal(out.text, 'Job<1000, PENDING (PartitionNodeLimit)>')
  t.same(f.cancelled(), [], 'not cancelled')
})

t.test('job.reason while it waits; wait({ timeoutMs }) rejects and the process can still exit', async (t) => {
  const dir = t.testdir()
  const f = fakeSlurm(dir)
  const folder = path.join(dir, 'logs')
  const ex = new SlurmExecutor({ folder, commands: f.commands })
  const job = await ex.submit(add, 1, 2)
  f.write('sacct.txt', '1000|PENDING|0:0|BeginTime\n')
  const e = await job.result({ timeoutMs: 2000 }).then(
    () => null,
    (err: Error) => err,
  )
  t.type(e, WaitTimeoutError)
  t.match(e?.message, /job 1000 did not end within 2 s: it is PENDING \(BeginTime\); it goes on/)
  t.equal(String(job), 'Job<1000, PENDING (BeginTime)>')
  t.same(f.cancelled(), [], 'a timeout does not cancel')
  f.write('sacct.txt', '1000|RUNNING|0:0|None\n')
  for (let i = 0; i < 100 && job.state !== 'RUNNING'; i++) await new Promise((r) => setTimeout(r, 100))
  t.equal(String(job), 'Job<1000, RUNNING>', 'no reason once it runs')
  await t.rejects(job.wait({ timeoutMs: -1 }), RangeError)

  // a script whose wait timed out ends: the abandoned wait does not keep it alive
  const script = `
    import { attachJob } from ${JSON.stringify(distUrl('lib/index.js'))}
    const job = attachJob(process.argv[1], '1000')
    await job.wait({ timeoutMs: 1000 }).catch((e) => console.log(e.name))`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, folder], {
    env: { ...f.env, SUBMITIT_SLURM_BIN_DIR: FAKE_SLURM_BIN },
    encoding: 'utf8',
    timeout: 60_000,
  })
  t.equal(r.status, 0, r.stderr)
  t.equal(r.stdout.trim(), 'WaitTimeoutError')
})

t.test('the CLI: status shows the reason, wait says why it gives up', async (t) => {
  const dir = t.testdir()
  const f = fakeSlurm(dir)
  const folder = path.join(dir, 'logs')
  const ex = new SlurmExecutor({ folder, commands: f.commands })
  await ex.submit(add, 1, 2)
  await ex.submit(add, 3, 4)
  f.write('sacct.txt', '1000|PENDING|0:0|Resources\n1001|PENDING|0:0|DependencyNeverSatisfied\n')
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [CLI, ...args], {
      env: { ...f.env, SUBMITIT_SLURM_BIN_DIR: FAKE_SLURM_BIN },
      encoding: 'utf8',
      timeout: 60_000,
    })
  const status = cli('status', folder, '1000', '1001')
  t.equal(status.status, 0, status.stderr)
  t.match(status.stdout, /^1000\tPENDING \(Resources\)(\t|$)/m)
  t.match(status.stdout, /^1001\tPENDING \(DependencyNeverSatisfied\)(\t|$)/m)
  const wait = cli('wait', folder, '1001')
  t.equal(wait.status, 1)
  t.match(wait.stderr, /1001: job 1001 can never start: .*DependencyNeverSatisfied/)
  t.equal(wait.stdout, '1001\tPENDING (DependencyNeverSatisfied)\n')
  t.same(f.cancelled(), [], 'the CLI only looks')
})

t.test('a requeued job that runs again has no reason: sacct still shows its last pending one (BeginTime)', async (t) => {
  const dir = t.testdir()
  const f = fakeSlurm(dir)
  const ex = new SlurmExecutor({ folder: path.join(dir, 'logs'), commands: f.commands, maxPollIntervalMs: 200 })
  const job = await ex.submit(add, 1, 2)
  f.write('sacct.txt', '1000|PENDING|0:0|BeginTime\n')
  f.write('squeue.txt', '1000|PENDING|BeginTime\n')
  for (let i = 0; i < 200 && job.reason !== 'BeginTime'; i++) await new Promise((r) => setTimeout(r, 50))
  t.equal(String(job), 'Job<1000, PENDING (BeginTime)>')
  // as seen on the cluster after a requeue: sacct's Reason keeps BeginTime while the job runs
  f.write('sacct.txt', '1000|RUNNING|0:0|BeginTime\n')
  f.write('squeue.txt', '1000|RUNNING|None\n')
  for (let i = 0; i < 200 && job.state !== 'RUNNING'; i++) await new Promise((r) => setTimeout(r, 50))
  t.equal(job.state, 'RUNNING')
  // sacct asked twice more: a running job is asked sacct only (squeue is for pending ones)
  const asked = f.calls('sacct').length
  for (let i = 0; i < 200 && f.calls('sacct').length < asked + 2; i++) await new Promise((r) => setTimeout(r, 50))
  t.equal(job.state, 'RUNNING')
  t.equal(job.reason, undefined)
  t.equal(String(job), 'Job<1000, RUNNING>')
  await ex.shutdown()
})
