// Tasks that misbehave on a node, run by the worker as a batch script runs it (fake Slurm commands):
// what the job's error says must be what happened.
import path from 'node:path'
import t from 'tap'
import { FailedJobError } from '../dist/lib/index.js'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { exitsZero, forever } from '../dist/fixtures/audit-tasks.js'
import { fakeSlurm } from './helpers/fake-slurm.js'

t.test('a task whose promise waits on nothing fails saying so, not that it exited', async (t) => {
  const dir = t.testdir()
  const folder = path.join(dir, 'logs', '%j')
  const slurm = fakeSlurm(dir)
  const ex = new SlurmExecutor({ folder, commands: slurm.commands })
  const stuck = await ex.submit(forever)
  const exits = await ex.submit(exitsZero)
  t.equal(slurm.runOnNode(folder, stuck.jobId, null).status, 1)
  t.equal(slurm.runOnNode(folder, exits.jobId, null).status, 1)
  const e = await stuck.exception()
  t.type(e, FailedJobError)
  t.match(e?.message, /the task's promise never settled and it left nothing to wait for/)
  t.notMatch(e?.message, /called process\.exit/)
  const x = await exits.exception()
  t.match(x?.message, /the task called process\.exit\(0\)/, 'a real process.exit is still told as such')
  t.notMatch(x?.message, /never settled/)
})
