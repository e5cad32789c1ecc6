// Against the real cluster (issue 8 item 9): a CPU-bound task that never yields to the event loop
// runs in a thread of the worker, so the worker's main thread still gets Slurm's SIGUSR2, checkpoints
// and requeues the job; the task sees the warning (JobEnvironment.warned) and saves where it is.
// The async counterpart (a checkpoint function called when the task yields) is in
// slurm-integration-preempt and slurm-integration-requeue.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { busyCount } from '../dist/fixtures/busy-tasks.js'
import { needsCluster } from './slurm-cluster.js'
import { until } from './helpers/waiting.js'

const skip = needsCluster(t)

t.test('a busy task, preempted: it sees the warning, saves, and the rerun resumes from there', { ...skip, timeout: 280_000 }, async (t) => {
  const ex = new SlurmExecutor({ folder: path.join(t.testdir(), '%j'), timeoutMin: 10 })
  // 100 steps of 100 ms of CPU, never yielding; it looks at JobEnvironment.warned between steps
  const job = await ex.submit(busyCount, 100, 0, 100, 0, true)
  await until(() => /step 10\b/.test(job.stdout() ?? ''), 200_000, 'step 10', 200)
  execFileSync('scancel', ['--signal=USR2', job.jobId])
  const result = await job.result()
  const warnedAfter = Number(/warned after step (\d+)/.exec(job.stdout() ?? '')?.[1])
  t.ok(warnedAfter >= 10, `warned while busy, after step ${warnedAfter}`)
  t.same(result, { from: warnedAfter + 1, restarts: 1 }, 'the rerun started where the task was warned')
  t.match(job.stderr() ?? '', /the job is preempted[\s\S]*requeueing job \S+ \(it resumes from its checkpoint/)
  t.notMatch(job.stderr() ?? '', /did not answer/, 'its save after the warning requeued it at once')
})

t.test(
  'a busy task across real 2-minute time limits (signalDelayS 90): warned each run, requeued, it finishes within maxNumTimeout (the countdown survives the requeues)',
  { ...skip, timeout: 600_000 },
  async (t) => {
    // Slurm warns each run 90 s before its 2-minute limit, give or take its coarse timing (seen here:
    // 10 to 30 s after the start): 70 s of work cannot fit in one run, and needs a few.
    const ex = new SlurmExecutor({ folder: path.join(t.testdir(), '%j'), timeoutMin: 2, maxNumTimeout: 10 })
    const job = await ex.submit(busyCount, 700, 0, 100, 0, true)
    const result = (await job.result({ timeoutMs: 580_000 })) as { from: number; restarts: number }
    const counts = JSON.parse(fs.readFileSync(path.join(job.paths.folder, `${job.jobId}_requeues.json`), 'utf8'))
    t.ok(counts.timeouts >= 1 && counts.timeouts <= 10, `requeued ${counts.timeouts} time(s) for the time limit`)
    t.equal(counts.preemptions, 0)
    t.equal(result.restarts, counts.timeouts, 'the last run is the one after the last requeue')
    t.ok(result.from > 0, `the last run resumed from step ${result.from}`)
    const log = job.stderr() ?? ''
    const warnings = log.match(/the time limit is near/g)?.length ?? 0
    t.equal(log.match(/requeueing job/g)?.length, counts.timeouts, 'one requeue per counted time limit')
    t.notMatch(log, /the job is preempted/, "every warning is the time limit's")
    // each warning is logged once as received (CI saw 6 for 5 requeues, then 8 for 7: an early warning was
    // logged again when acted on); the last run may be warned as its task ends: its result stands, no requeue
    const unanswered = log.match(/the task ended meanwhile: its result stands|the task ended before the warning could be acted on/g)?.length ?? 0
    t.equal(warnings, counts.timeouts + unanswered, 'each warning led to a requeue, or came as the task ended')
    t.ok(unanswered <= 1, 'only the last run can end while warned')
    if (t.counts.fail > 0) t.comment(`the job's log:\n${log}`)
  },
)
