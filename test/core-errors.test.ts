// Failures keep what a user needs: the remote stack, the job id, the logs; parameters are checked.
import fs from 'node:fs'
import t from 'tap'
import { DebugExecutor, FailedJobError, LocalExecutor, ParameterError } from '../dist/lib/index.js'
import { add, fails, failsWithCause } from '../dist/fixtures/tasks.js'
import { rejection } from './helpers/waiting.js'

t.test('a failing task: result() throws FailedJobError with the remote stack, exception() returns it', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const job = await ex.submit(fails, 'wrong value')
  const thrown = (await rejection(job.result())) as FailedJobError
  t.type(thrown, FailedJobError)
  t.equal(thrown.name, 'FailedJobError')
  t.equal(thrown.jobId, job.jobId)
  t.equal(thrown.state, 'FAILED')
  t.equal(job.state, 'FAILED')
  t.match(thrown.remoteStack, /ValidationError: wrong value/)
  t.match(thrown.remoteStack, /fixtures[\\/]tasks\.(js|ts)/, 'the remote stack names the fixture file')
  t.match(thrown.message, /failed: ValidationError: wrong value/)
  t.match(thrown.message, /--- remote stack ---/)
  t.match(thrown.message, new RegExp(`${job.jobId}_0_log\\.err`), 'the message points to the logs')
  t.same(thrown.logs, { stdout: job.paths.stdout(0), stderr: job.paths.stderr(0) })
  t.equal((thrown.cause as Error).name, 'ValidationError', 'the cause is the remote error')

  const returned = await job.exception()
  t.type(returned, FailedJobError)
  t.equal(returned!.remoteStack, thrown.remoteStack, 'exception() gives the same remote stack')
  t.equal(returned!.message, thrown.message)
  // the stack was also written to the task's stderr log
  t.match(fs.readFileSync(job.paths.stderr(0), 'utf8'), /ValidationError: wrong value/)
  t.match(job.stderr(), /fixtures[\\/]tasks/)

  const ok = await ex.submit(add, 1, 1)
  t.equal(await ok.exception(), null, 'exception() is null for a completed job')
  t.equal(await ok.result(), 2)

  const nested = (await rejection((await ex.submit(failsWithCause)).result())) as FailedJobError
  t.match(nested.message, /Error: outer/)
  t.equal(((nested.cause as Error).cause as Error).message, 'inner')
})

t.test('updateParameters: a misspelled name throws, listing the valid ones and the closest', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const e = t.throws(() => ex.updateParameters({ timeoutMn: 3 } as never)) as Error
  t.type(e, ParameterError)
  t.match(e.message, /unknown local parameter "timeoutMn"/)
  t.match(e.message, /did you mean "timeoutMin"\?/)
  for (const name of ['arrayParallelism', 'maxWorkers', 'nodes', 'tasksPerNode', 'timeoutMin']) t.match(e.message, name, `lists ${name}`)
  t.match((t.throws(() => ex.updateParameters({ maxworkers: 3 } as never)) as Error).message, /did you mean "maxWorkers"/, 'case')
  t.match((t.throws(() => ex.updateParameters({ tasks_per_node: 2 } as never)) as Error).message, /did you mean "tasksPerNode"/, 'snake case')
  t.notMatch((t.throws(() => ex.updateParameters({ partition: 'gpu' } as never)) as Error).message, /did you mean/, 'no suggestion when nothing is close')
  t.equal(ex.parameters.timeoutMin, undefined, 'a refused update changes nothing')
  // the constructor checks too; the debug backend lists its own names
  t.throws(() => new LocalExecutor({ folder, maxWorker: 2 } as never), /did you mean "maxWorkers"/)
  const d = t.throws(() => new DebugExecutor({ folder, maxWorkers: 2 } as never)) as Error
  t.match(d.message, /unknown debug parameter "maxWorkers"/)
  t.match(d.message, /valid ones: maxSubmissionSizeGb, nodes, stderrToStdout, tasksPerNode, timeoutMin$/)
  // values are checked as well
  t.throws(() => ex.updateParameters({ timeoutMin: -1 }), /timeoutMin must be a positive number/)
  t.throws(() => ex.updateParameters({ tasksPerNode: 1.5 }), /tasksPerNode must be a positive integer/)
  t.throws(() => ex.updateParameters({ maxWorkers: 0 }), /maxWorkers must be a positive integer/)
  ex.updateParameters({ timeoutMin: 2, arrayParallelism: 1 })
  t.equal(ex.parameters.timeoutMin, 2)
  t.equal(ex.parameters.arrayParallelism, 1)
  t.throws(() => new LocalExecutor({ folder: '' }), ParameterError, 'a folder is required')
})

t.test('submit refuses a function that is not a task, with a hint', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const e = await rejection(ex.submit(((x: number) => x) as never, 1))
  t.match(e.message, /is not a task/)
  t.match(e.message, /task\(import\.meta\.url/)
})
