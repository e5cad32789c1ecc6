// A dead submitter is detected: a re-attached job whose owner died reads FAILED with a clear reason,
// never RUNNING for ever — also when the pid was reused, and when the owner ran in another PID
// namespace (as in a container, or on another host), where only its heartbeat can tell.
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { attachJob, FailedJobError } from '../dist/lib/index.js'
import { encodeRecord, readSubmission, writeAtomic } from '../dist/lib/core/format.js'
import { distUrl } from './helpers/paths.js'
import { plainEnv, startNode, writeScript } from './helpers/processes.js'
import { rejection, until } from './helpers/waiting.js'

function ownerScript(dir: string): string {
  return writeScript(
    dir,
    'owner.mjs',
    `
    import { LocalExecutor } from ${JSON.stringify(distUrl('lib/index.js'))}
    import { waitThenReturn } from ${JSON.stringify(distUrl('fixtures/trust-tasks.js'))}
    const ex = new LocalExecutor({ folder: ${JSON.stringify(path.join(dir, '%j'))}, maxWorkers: 1 })
    const jobs = await ex.mapArray(waitThenReturn, [600000, 600000], [1, 2])
    console.log('JOBS ' + jobs.map((j) => j.jobId).join(' '))
    setInterval(() => {}, 1000)
  `,
  )
}

t.test('the owner is killed with SIGKILL: its jobs read FAILED at once, saying why', async (t) => {
  const dir = t.testdir()
  const { child, match } = await startNode([ownerScript(dir)], /JOBS (\S+) (\S+)\n/)
  const [a, b] = [match[1], match[2]]
  const job = attachJob(`${dir}/%j`, a)
  t.match(job.state, /^(PENDING|RUNNING)$/, 'a live owner: not final (RUNNING, or queued as the owner says)')
  t.equal(job.reason, undefined)
  child.kill('SIGKILL')
  await new Promise((r) => child.once('exit', r))
  await until(() => job.state === 'FAILED', 10_000, 'FAILED after the owner died')
  t.match(job.reason, /its owner \(pid \d+ on .*\) has exited/)
  const e = (await rejection(attachJob(`${dir}/%j`, b).result())) as FailedJobError
  t.type(e, FailedJobError)
  t.match(e.message, /has exited, so the job will never get its result/)
})

t.test('a reused pid is not taken for the owner (its start time differs)', async (t) => {
  const dir = t.testdir()
  const { child, match } = await startNode([ownerScript(dir)], /JOBS (\S+) (\S+)\n/)
  const a = match[1]
  child.kill('SIGKILL')
  await new Promise((r) => child.once('exit', r))
  // the submission now names a live process (this one) with the dead owner's start time
  const file = attachJob(`${dir}/%j`, a).paths.submitted
  const record = readSubmission(file)
  writeAtomic(file, encodeRecord({ ...record, owner: { ...record.owner, pid: process.ppid } }))
  await new Promise((r) => setImmediate(r)) // attachJob checks a submission file once per turn
  const job = attachJob(`${dir}/%j`, a)
  t.equal(job.state, 'FAILED')
  t.match(job.reason, /its pid is another process's now/)
})

t.test('an owner on another machine of the same name (another boot id) is alive while its heartbeat goes on', async (t) => {
  const dir = t.testdir()
  const { child, match } = await startNode([ownerScript(dir)], /JOBS (\S+) (\S+)\n/)
  t.teardown(() => child.kill('SIGKILL'))
  const a = match[1]
  // as the other machine's submission would read here: its host name is ours, its boot id and pid are not
  const file = attachJob(`${dir}/%j`, a).paths.submitted
  const record = readSubmission(file)
  writeAtomic(file, encodeRecord({ ...record, owner: { ...record.owner, bootId: 'another-machine', pid: 999_999 } }))
  await new Promise((r) => setImmediate(r)) // attachJob checks a submission file once per turn
  t.match(attachJob(`${dir}/%j`, a).state, /^(PENDING|RUNNING)$/, 'its submission file was touched just now: alive')
  const old = new Date(Date.now() - 3_600_000)
  fs.utimesSync(file, old, old)
  child.kill('SIGKILL') // its heartbeat would touch the file again
  await new Promise((r) => child.once('exit', r))
  fs.utimesSync(file, old, old)
  await new Promise((r) => setImmediate(r))
  const job = attachJob(`${dir}/%j`, a)
  t.equal(job.state, 'FAILED', 'silent for an hour: dead')
  t.match(job.reason, /has given no heartbeat for \d+ s \(it ran before this machine restarted, or on another machine of this name\)/)
})

for (const proc of [[], ['--mount-proc']]) {
  t.test(
    `an owner in another PID namespace${proc.length ? ', with its own /proc (as in a container)' : ''}: RUNNING while its heartbeat goes on, FAILED once it stops`,
    async (t) => {
      try {
        execFileSync('unshare', ['--pid', '--fork', ...proc, 'true'], { stdio: 'pipe' })
      } catch (e) {
        const why = `unshare --pid is not available here (${(e as Error).message.split('\n')[0]})`
        if (process.env.CI === 'true' || process.env.CI === '1') t.fail(why)
        else t.comment(`skipped: ${why}`)
        return
      }
      const dir = t.testdir()
      const script = ownerScript(dir)
      const child = spawn('unshare', ['--pid', '--fork', ...proc, '--kill-child', process.execPath, script], {
        env: plainEnv({ SUBMITIT_HEARTBEAT_MS: '300' }),
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let out = ''
      child.stdout.on('data', (d) => {
        out += d
      })
      await until(() => /JOBS (\S+)/.test(out), 30_000, 'the owner to submit')
      const a = /JOBS (\S+)/.exec(out)![1]
      const job = attachJob(`${dir}/%j`, a)
      // its pid means nothing here: the heartbeat (the submission file touched every 300 ms) tells
      await new Promise((r) => setTimeout(r, 2_000))
      t.match(job.state, /^(PENDING|RUNNING)$/, 'alive: its heartbeat goes on')
      child.kill('SIGKILL') // unshare --kill-child takes the owner with it
      await new Promise((r) => child.once('exit', r))
      await until(() => job.state === 'FAILED', 30_000, 'FAILED once the heartbeat stops')
      t.match(job.reason, /has given no heartbeat for \d+ s/)
      t.ok(fs.existsSync(job.paths.submitted))
    },
  )
}
