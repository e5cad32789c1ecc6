// The submitit-ts command, run as a user would, on jobs another process submitted.
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { LocalExecutor } from '../dist/lib/index.js'
import { chatty, fails, train } from '../dist/fixtures/tasks.js'

const cliPath = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'lib', 'cli.js')
const run = (...args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: 60_000 })

t.test('status, wait, result and logs of finished jobs', async (t) => {
  const folder = `${t.testdir()}/%j`
  const ex = new LocalExecutor({ folder })
  t.teardown(() => ex.shutdown())
  const ok = await ex.submit(train, 0.5, 2)
  const bad = await ex.submit(fails, 'broken on purpose')
  const talk = await ex.submit(chatty, 9)
  await Promise.all([ok.wait(), bad.wait(), talk.wait()])

  const status = run('status', folder, ok.jobId, bad.jobId)
  t.equal(status.status, 0, status.stderr)
  t.equal(status.stdout, `${ok.jobId}\tCOMPLETED\n${bad.jobId}\tFAILED\n`)
  const wait = run('wait', folder, ok.jobId, bad.jobId)
  t.equal(wait.status, 1, 'not all completed')
  const result = run('result', folder, ok.jobId)
  t.equal(result.status, 0)
  t.equal(result.stdout.trim(), '{ loss: 0.05, epochs: 2 }')
  const failed = run('result', folder, bad.jobId)
  t.equal(failed.status, 1)
  t.match(failed.stderr, /ValidationError: broken on purpose[\s\S]*remote stack/)
  t.equal(run('logs', folder, talk.jobId).stdout, 'out 9\n')
  t.equal(run('logs', folder, talk.jobId, '--err').stdout, 'err 9\n')
  const cancel = run('cancel', folder, ok.jobId)
  t.equal(cancel.status, 0, 'cancelling a finished job changes nothing')
  t.equal(cancel.stdout, `${ok.jobId}\tCOMPLETED\n`)
  const usage = run('frobnicate', folder, ok.jobId)
  t.equal(usage.status, 2)
  t.match(usage.stderr, /usage:/)
})
