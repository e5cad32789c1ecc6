// The LocalExecutor's setup lines (isolation: 'process'): run by one shell before the job's process,
// as Slurm's setup lines in the batch script; what they export and where they cd reach the task; a
// failing line fails the job, naming the line and its output; refused in thread isolation.
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { FailedJobError, LocalExecutor, ParameterError } from '../dist/lib/index.js'
import { seen } from '../dist/fixtures/setup-tasks.js'
import { rejection } from './helpers/waiting.js'

t.test("the lines' exports, quotes and cd reach the task; each job gets its own", async (t) => {
  const folder = t.testdir({ work: {} })
  const work = fs.realpathSync(path.join(folder, 'work'))
  const ex = new LocalExecutor({
    folder: `${folder}/%j`,
    maxWorkers: 2,
    isolation: 'process',
    setup: [
      'export SETUP_A=1',
      `export SETUP_Q="it's \\"quoted\\" \\$HOME"`,
      `cd ${JSON.stringify(work)}`,
      'SETUP_A=$((SETUP_A + 1)); export SETUP_A',
      'echo setting up',
    ],
  })
  t.teardown(() => ex.shutdown())
  const [a, q] = await ex.mapArray(seen, ['SETUP_A', 'SETUP_Q'])
  const ra = await a.result()
  t.equal(ra.value, '2', 'an exported variable, changed by a later line: one shell')
  t.equal(ra.cwd, work, 'the directory a line went to')
  t.equal((await q.result()).value, 'it\'s "quoted" $HOME', "quotes and $ in a line are the shell's to read")
  t.not(ra.pid, process.pid)
  t.equal(process.env.SETUP_A, undefined, "the submitter's environment is untouched")
  t.equal(process.env.SUBMITIT_SETUP_REPORT, undefined)
  t.equal((await (await ex.submit(seen, 'SUBMITIT_SETUP_REPORT')).result()).value, undefined, 'nothing of ours leaks into the job')

  ex.updateParameters({ setup: null })
  const plain = await (await ex.submit(seen, 'SETUP_A')).result()
  t.equal(plain.value, undefined, 'unset: no setup')
  ex.updateParameters({ setup: [] })
  t.equal((await (await ex.submit(seen, 'SETUP_A')).result()).value, undefined, 'no lines: as without')
})

t.test('a failing line fails the job, naming the line, its status and its output; later lines do not run', async (t) => {
  const folder = t.testdir()
  const marker = path.join(folder, 'later-ran')
  const ex = new LocalExecutor({
    folder: `${folder}/%j`,
    maxWorkers: 1,
    isolation: 'process',
    setup: ['export OK=1', 'echo "loading module"; echo "module: not found" >&2; exit_code=3; (exit $exit_code)', `touch ${marker}`],
  })
  t.teardown(() => ex.shutdown())
  const job = await ex.submit(seen, 'OK')
  const e = (await rejection(job.result())) as FailedJobError
  t.type(e, FailedJobError)
  t.equal(job.state, 'FAILED')
  t.match(
    e.message,
    /setup line 2 of 3, "echo \\"loading module\\"; echo \\"module: not found\\" >&2; exit_code=3; \(exit \$exit_code\)", exited with status 3/,
  )
  t.match(e.message, /its output:\nloading module\nmodule: not found/)
  t.notOk(fs.existsSync(marker), 'the line after the failing one did not run')

  ex.updateParameters({ setup: ['exit 7'] })
  const exited = (await rejection((await ex.submit(seen, 'OK')).result())) as FailedJobError
  t.match(exited.message, /setup line 1 of 1, "exit 7", ended the shell \(exit status 7; a line that exits or execs ends the setup\): it printed nothing/)

  ex.updateParameters({ setup: ['no-such-command-xyz'] })
  const missing = (await rejection((await ex.submit(seen, 'OK')).result())) as FailedJobError
  t.match(missing.message, /setup line 1 of 1, "no-such-command-xyz", exited with status 127: its output:\n.*no-such-command-xyz.*not found/)

  ex.updateParameters({ setup: ['true'] })
  t.equal((await (await ex.submit(seen, 'OK')).result()).value, undefined, 'the executor goes on after failed setups')
})

t.test('refused with a ParameterError in thread isolation, and with a NUL', async (t) => {
  const folder = t.testdir()
  const e = t.throws(() => new LocalExecutor({ folder, maxWorkers: 1, setup: ['export A=1'] })) as Error
  t.type(e, ParameterError)
  t.match(e.message, /setup lines run before a job's own process: they need isolation: 'process'.*got isolation unset \(thread\)/)
  t.throws(() => new LocalExecutor({ folder, maxWorkers: 1, isolation: 'thread', setup: ['x'] }), /got isolation 'thread'/)
  const ex = new LocalExecutor({ folder, maxWorkers: 1, isolation: 'process', setup: ['export A=1'] })
  t.teardown(() => ex.shutdown())
  t.throws(() => ex.updateParameters({ isolation: 'thread' }), /need isolation: 'process'/, 'going back to threads while lines are set')
  t.equal(ex.parameters.isolation, 'process', 'nothing applied')
  t.throws(() => ex.updateParameters({ setup: ['a\0b'] }), /setup must not contain a NUL character/)
  t.doesNotThrow(() => new LocalExecutor({ folder, maxWorkers: 1, setup: [] }), 'no lines: nothing to refuse')
})
