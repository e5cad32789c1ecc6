// A Slurm job requeued from outside after its task ended (`scontrol requeue` of a COMPLETED job, or of
// a running one whose task ended during KillWait) is run again by Slurm: its worker must not run the
// task a second time and replace the result the submitter may already have read (exactly once).
// Fake Slurm commands: the node's second run is the worker started again with SLURM_RESTART_COUNT=1.
// The real cluster: slurm-integration-audit.test.ts.
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { countedRun, runsIn } from '../dist/fixtures/pack-tasks.js'
import { fakeSlurm } from './helpers/fake-slurm.js'

t.test('a job run again after it wrote its result does not run its task again', async (t) => {
  const dir = t.testdir()
  const folder = path.join(dir, 'logs', '%j')
  const slurm = fakeSlurm(dir)
  const ex = new SlurmExecutor({ folder, commands: slurm.commands })
  const [ok, failing] = await ex.mapArray(countedRun, [dir, dir], [1, 13], [0, 0])
  t.equal(slurm.runOnNode(folder, '1000', 0).status, 0)
  t.equal(slurm.runOnNode(folder, '1000', 1).status, 1)
  t.equal(await ok.result(), 2)
  const before = fs.readFileSync(ok.paths.resultFile(0))
  // Slurm runs both again (requeued from outside)
  const again = slurm.runOnNode(folder, '1000', 0, { SLURM_RESTART_COUNT: '1' })
  t.equal(again.status, 0, 'a COMPLETED job: exit 0 again')
  t.match(again.stderr, /job 1000_0 \(task 0\) already has its result \(COMPLETED, .*1000_0_0_result\.v8\): it is not run again/)
  const againFailed = slurm.runOnNode(folder, '1000', 1, { SLURM_RESTART_COUNT: '1' })
  t.equal(againFailed.status, 1, 'a FAILED job: exit 1 again')
  t.match(againFailed.stderr, /already has its result \(FAILED/)
  t.same(runsIn(dir).sort(), [1, 13], 'each task ran once')
  t.same(fs.readFileSync(ok.paths.resultFile(0)), before, 'the result read is the result that stays')
  t.match(String(await failing.exception()), /element 13 fails on purpose/)
})

t.test("a result left by an older job with the same id does not stop the new job's run", async (t) => {
  const dir = t.testdir()
  const folder = path.join(dir, 'logs')
  const old = fakeSlurm(dir, 'old')
  const oldJob = await new SlurmExecutor({ folder, commands: old.commands }).submit(countedRun, dir, 1, 0)
  t.equal(old.runOnNode(folder, '1000', null).status, 0)
  t.equal(await oldJob.result(), 2)
  // an older submitit's result in place (not moved aside): its nonce is not the new job's
  const stale = fs.readFileSync(oldJob.paths.resultFile(0))
  const slurm = fakeSlurm(dir, 'new')
  const job = await new SlurmExecutor({ folder, commands: slurm.commands }).submit(countedRun, dir, 2, 0)
  t.equal(job.jobId, oldJob.jobId, 'the id was reused')
  fs.writeFileSync(job.paths.resultFile(0), stale)
  const r = slurm.runOnNode(folder, '1000', null)
  t.equal(r.status, 0, r.stderr)
  t.notMatch(r.stderr, /already has its result/)
  t.same(runsIn(dir), [1, 2], 'the new job ran')
  t.equal(await job.result(), 4, 'its own value')
})
