// Against the real cluster: requeues after the time limit are bounded (maxNumTimeout). A 2-minute
// limit with the default --signal=USR2@90: Slurm warns each run ~10–30 s after it starts (its timing
// is coarse), which the worker takes for the time limit (it is within delay + 90 s of the limit).
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { FailedJobError } from '../dist/lib/index.js'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { resumableCount } from '../dist/fixtures/tasks.js'
import { needsCluster } from './slurm-cluster.js'

const skip = needsCluster(t)

t.test('maxNumTimeout: 1: requeued once after the time limit, then TIMEOUT with a result that says why', { ...skip, timeout: 280_000 }, async (t) => {
  const ex = new SlurmExecutor({ folder: path.join(t.testdir(), '%j'), timeoutMin: 2, maxNumTimeout: 1 })
  const job = await ex.submit(resumableCount, 100_000, 0, 100)
  const e = (await job.result({ timeoutMs: 260_000 }).then(
    () => null,
    (err: Error) => err,
  )) as FailedJobError | null
  t.type(e, FailedJobError, String(e))
  t.equal(e?.state, 'TIMEOUT')
  t.match(e?.message ?? '', /reached its time limit again after 1 requeue\(s\) for time limits, the most allowed \(maxNumTimeout: 1\)/)
  t.equal(job.state, 'TIMEOUT')
  const counts = JSON.parse(fs.readFileSync(path.join(job.paths.folder, `${job.jobId}_requeues.json`), 'utf8'))
  t.same(counts, { nonce: job.nonce, timeouts: 1, preemptions: 0 }, 'the countdown survived the requeue')
  const log = job.stderr() ?? ''
  t.equal(log.match(/the time limit is near/g)?.length, 2, 'warned in each of the two runs')
  t.match(log, /resumes from its checkpoint/, 'the second run resumed')
})
