// Against the real cluster, as a user in another shell: an array with a failure, a job cancelled
// with the command line (one scancel), its timings from sacct (it was killed before it could record
// them), list/status/result/logs, the report, a rerun with changed parameters, clean of Slurm's own
// logs. No ids typed but those the commands printed.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { fails, sleepMs } from '../dist/fixtures/tasks.js'
import { CLI } from './helpers/paths.js'
import { needsCluster } from './slurm-cluster.js'
import { until } from './helpers/waiting.js'

const skip = needsCluster(t)
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 200_000 })

t.test('the command line on a real Slurm array', { ...skip, timeout: 400_000 }, async (t) => {
  const dir = t.testdir()
  const logs = path.join(dir, 'logs')
  const folder = path.join(logs, '%j')
  const ex = new SlurmExecutor({ folder, timeoutMin: 3 })
  t.teardown(() => ex.shutdown())
  const [ok, long] = await ex.mapArray(sleepMs, [10, 600_000], [1, 2])
  const bad = await ex.submit(fails, 'broken on a node')
  await Promise.all([ok.wait(), bad.wait()])
  await until(() => long.state === 'RUNNING', 120_000, 'the long one to start')
  const arrayId = ok.paths.arrayId

  const list = run('list', logs) // the plain folder, as a user types it
  t.equal(list.status, 0, list.stderr)
  t.match(list.stdout, new RegExp(`^${bad.jobId}\\s+1\\s+1 failed\\s+fails\\s.*slurm`, 'm'))
  t.match(list.stdout, new RegExp(`^${arrayId}\\s+2\\s+1 (completed|running), 1 (completed|running)\\s+sleepMs`, 'm'))

  const cancel = run('cancel', folder, arrayId)
  t.equal(cancel.status, 0, cancel.stderr)
  t.equal(cancel.stdout, `${arrayId}_0\tCOMPLETED\n${arrayId}_1\tCANCELLED\n`, 'the running one cancelled, the done one left')
  const status = JSON.parse(run('status', folder, arrayId, '--json').stdout)
  const cancelled = status.arrays[0].elements[1]
  t.match(cancelled, { state: 'CANCELLED', startedAt: String, durationMs: Number, where: String }, 'killed by scancel: its timings from sacct')

  const result = run('result', folder, bad.jobId)
  t.equal(result.status, 1)
  t.match(result.stderr, /ValidationError: broken on a node[\s\S]*remote stack/)
  t.equal(run('logs', folder, ok.jobId).status, 0)

  const html = path.join(dir, 'report.html')
  const report = run('report', folder, arrayId, '--html', html)
  t.equal(report.status, 0, report.stderr)
  const page = fs.readFileSync(html, 'utf8')
  t.match(page, /Failed jobs \(1\)/, 'the cancelled one among those that did not complete')
  t.notMatch(page, /ended without timings/, 'every bar there, the cancelled one too')

  const rerun = run('rerun', folder, arrayId, '--set', 'timeoutMin=2')
  t.equal(rerun.status, 0, rerun.stderr)
  const [, from, to] = /^(\S+)\t→ (\S+)$/m.exec(rerun.stdout) ?? []
  t.equal(from, `${arrayId}_1`, 'only the cancelled one')
  t.match(to, /^\d+_0$/, 'a new Slurm array')
  const script = fs.readFileSync(path.join(logs, to.split('_')[0], `${to.split('_')[0]}_submission.sh`), 'utf8')
  t.match(script, /--time=2\b/, 'with the changed time limit')
  t.equal(run('cancel', folder, to).status, 0)

  t.ok(
    fs.readdirSync(logs).some((n) => n === `slurm-${arrayId}_0.out`),
    "Slurm's own logs are beside the jobs' folders",
  )
  const clean = run('clean', folder, arrayId, bad.jobId)
  t.equal(clean.status, 0, clean.stderr)
  const left = fs.readdirSync(logs).filter((n) => n.includes(arrayId) || n.includes(bad.jobId))
  t.same(left, [], 'nothing of them left, their Slurm logs neither')
})
