// submitit parity, parameters of every executor: null/undefined unset, 0 GPUs is none, every bad
// name in one error, stderrToStdout on the LocalExecutor, maxSubmissionSizeGb (max_pickle_size_gb).
import fs from 'node:fs'
import t from 'tap'
import { DebugExecutor, LocalExecutor, ParameterError, SlurmExecutor, SubmissionTooLargeError } from '../dist/lib/index.js'
import { add, chatty } from '../dist/fixtures/tasks.js'
import { size } from '../dist/fixtures/parity-tasks.js'
import { listFiles } from './helpers/files.js'
import { rejection } from './helpers/waiting.js'

t.test('null and undefined unset a parameter, back to its default', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder, maxWorkers: 1, timeoutMin: 5, tasksPerNode: 2 })
  t.teardown(() => ex.shutdown())
  ex.updateParameters({ timeoutMin: null, tasksPerNode: undefined })
  t.equal(ex.parameters.timeoutMin, undefined, 'timeoutMin: null removes the earlier value')
  t.notOk('tasksPerNode' in ex.parameters, 'tasksPerNode: undefined too')
  t.equal(ex.parameters.maxWorkers, 1)
  ex.updateParameters({ maxWorkers: null })
  t.ok(ex.parameters.maxWorkers! >= 1, 'maxWorkers: null is its default (the CPUs), not nothing')
  t.equal(await (await ex.submit(add, 1, 2)).result(), 3, 'and the executor still runs jobs')

  const debug = new DebugExecutor({ folder, timeoutMin: null, nodes: null } as never)
  t.same(debug.parameters, {}, 'the DebugExecutor takes timeoutMin: null (unset), which it refuses set')
  t.throws(() => debug.updateParameters({ timeoutMin: 3 } as never), /cannot be honoured/)
})

t.test('gpusPerNode: 0 and memGb: null on the SlurmExecutor mean none', async (t) => {
  const folder = t.testdir()
  const ex = new SlurmExecutor({ folder, commands: { env: process.env }, gpusPerNode: 0, memGb: null, gpusPerTask: 0 } as never)
  t.teardown(() => ex.shutdown())
  t.same(ex.parameters, {}, 'no --gpus-per-node=0, no --mem')
  ex.updateParameters({ gpusPerNode: 2, memGb: 4 })
  t.same(ex.parameters, { gpusPerNode: 2, memGb: 4 })
  ex.updateParameters({ gpusPerNode: 0, memGb: null })
  t.same(ex.parameters, {}, 'and they remove an earlier value')
  t.throws(() => ex.updateParameters({ gpusPerNode: -1 }), ParameterError, 'a negative count is still refused')
})

t.test('every unknown parameter is reported in one error', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const e = t.throws(() => ex.updateParameters({ timeoutMn: 3, maxworkers: 2, partition: 'gpu' } as never)) as Error
  t.type(e, ParameterError)
  t.match(
    e.message,
    /unknown local parameters "timeoutMn" \(did you mean "timeoutMin"\?\), "maxworkers" \(did you mean "maxWorkers"\?\), "partition"; valid ones: /,
  )
  t.equal(ex.parameters.timeoutMin, undefined, 'nothing applied')
  // a bad value after a good one: nothing applied either
  t.throws(() => ex.updateParameters({ timeoutMin: 3, tasksPerNode: 0 }), /tasksPerNode must be a positive integer/)
  t.equal(ex.parameters.timeoutMin, undefined, 'a refused update changes nothing')
})

t.test("stderrToStdout on the LocalExecutor: stderr goes to the task's _log.out", async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 1, stderrToStdout: true })
  t.teardown(() => ex.shutdown())
  const job = await ex.submit(chatty, 3)
  await job.wait()
  t.equal(job.stderr(), null, 'no _log.err')
  t.match(job.stdout(), /out 3/)
  t.match(job.stdout(), /err 3/)
  t.notOk(fs.existsSync(job.paths.stderr(0)))

  ex.updateParameters({ stderrToStdout: false })
  const apart = await ex.submit(chatty, 4)
  await apart.wait()
  t.equal(apart.stdout(), 'out 4\n')
  t.equal(apart.stderr(), 'err 4\n')
  t.throws(() => ex.updateParameters({ stderrToStdout: 'yes' } as never), /stderrToStdout must be a boolean/)

  const debug = new DebugExecutor({ folder: `${folder}/debug/%j`, stderrToStdout: true })
  const d = await debug.submit(chatty, 5)
  await d.wait()
  t.equal(d.stderr(), null, 'the DebugExecutor too')
  t.match(d.stdout(), /out 5\nerr 5/)
})

t.test('maxSubmissionSizeGb: a larger submission is refused before anything is written', async (t) => {
  const folder = t.testdir()
  const ex = new DebugExecutor({ folder: `${folder}/%j` })
  t.equal(ex.maxSubmissionSizeGb, 1, "submitit's default, 1 GB")
  ex.updateParameters({ maxSubmissionSizeGb: 0 })
  const e = await rejection(ex.submit(add, 1, 2))
  t.type(e, SubmissionTooLargeError, "0 refuses everything, as submitit's max_pickle_size_gb=0")
  t.same(listFiles(folder), [], 'nothing written')

  ex.updateParameters({ maxSubmissionSizeGb: 10_000 / 1024 ** 3 }) // 10 kB
  t.equal(await (await ex.submit(size, 'x'.repeat(1000))).result(), 1000, 'a small one goes')
  const big = (await rejection(ex.mapArray(size, Array(20).fill('x'.repeat(1000))))) as InstanceType<typeof SubmissionTooLargeError>
  t.type(big, SubmissionTooLargeError, 'the whole array counts: 20 x 1 kB')
  t.match(big.message, /submission of 20 jobs takes \d+ bytes encoded, over maxSubmissionSizeGb/)
  t.match(big.message, /Pass large data by path/)
  t.ok(big.bytes > 20_000)
  t.equal(listFiles(folder).filter((f) => f.endsWith('_submitted.v8')).length, 1, 'only the small one was written')

  ex.updateParameters({ maxSubmissionSizeGb: null })
  t.equal(ex.maxSubmissionSizeGb, 1, 'null: back to the default')
  ex.updateParameters({ maxSubmissionSizeGb: Infinity })
  t.throws(() => ex.updateParameters({ maxSubmissionSizeGb: -1 }), /maxSubmissionSizeGb must be a number of GB >= 0/)
  t.throws(() => new LocalExecutor({ folder, maxSubmissionSizeGb: 'big' } as never), ParameterError)
  const local = new LocalExecutor({ folder, maxSubmissionSizeGb: 0.5 })
  t.equal(local.maxSubmissionSizeGb, 0.5, 'every executor takes it')
  t.notOk('maxSubmissionSizeGb' in local.parameters, "kept apart from the backend's parameters")
  await local.shutdown()
})
