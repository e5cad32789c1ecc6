// runCommand leaves nothing running: the command's whole process group goes when its job times out,
// is cancelled, ends by itself, or when the submitting process is killed. Real processes throughout.
import fs from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import { LocalExecutor, runCommand } from '../dist/lib/index.js'
import { distUrl } from './helpers/paths.js'
import { isAlive, plainEnv, startNode, writeScript } from './helpers/processes.js'
import { until } from './helpers/waiting.js'

/** A shell that starts two background sleeps, writes their pids and its own to `file`, then waits. */
const sleeper = (file: string, prelude = ''): string[] => [
  'sh',
  '-c',
  `${prelude}sleep 300 & echo $! >> '${file}'; sleep 300 & echo $! >> '${file}'; echo $$ >> '${file}'; wait`,
]

const pidsIn = (file: string): number[] => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : [])

async function allGone(t: Test, pids: number[], what: string): Promise<void> {
  t.equal(pids.length, 3, `${what}: the shell and its two sleeps wrote their pids`)
  await until(() => !pids.some(isAlive), 60_000, `${what}: every process of the group gone`).catch(() => {})
  t.same(pids.filter(isAlive), [], `${what}: no process of the command's group is left`)
}

t.test("a job that times out takes its command's whole process group with it", async (t) => {
  const dir = t.testdir()
  const ex = new LocalExecutor({ folder: `${dir}/%j`, maxWorkers: 1, timeoutMin: 0.02 })
  t.teardown(() => ex.shutdown())
  const file = path.join(dir, 'pids')
  const job = await ex.submit(runCommand, sleeper(file))
  await job.wait()
  t.equal(job.state, 'TIMEOUT')
  await allGone(t, pidsIn(file), 'timeout')
})

t.test('a cancelled job too, even when the command ignores SIGTERM (SIGKILL follows)', async (t) => {
  const dir = t.testdir()
  const ex = new LocalExecutor({ folder: `${dir}/%j`, maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  const plain = path.join(dir, 'plain')
  const stubborn = path.join(dir, 'stubborn')
  const [a, b] = await Promise.all([
    ex.submit(runCommand, sleeper(plain)),
    // an ignored signal stays ignored across exec: the sleeps ignore SIGTERM too
    ex.submit(runCommand, sleeper(stubborn, "trap '' TERM; ")),
  ])
  await until(() => pidsIn(plain).length === 3 && pidsIn(stubborn).length === 3, 30_000, 'both commands started')
  await Promise.all([a.cancel(), b.cancel()])
  t.equal(a.state, 'CANCELLED')
  t.equal(b.state, 'CANCELLED')
  await allGone(t, pidsIn(plain), 'cancel')
  await allGone(t, pidsIn(stubborn), 'cancel, SIGTERM ignored')
})

t.test('a background child does not outlive a command that ended by itself', async (t) => {
  const dir = t.testdir()
  const ex = new LocalExecutor({ folder: `${dir}/%j`, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const file = path.join(dir, 'pids')
  // the sleep holds the command's stdout: without the group kill, the job would wait 300 s for it
  const job = await ex.submit(runCommand, ['sh', '-c', `sleep 300 & echo $! >> '${file}'; sleep 300 & echo $! >> '${file}'; echo $$ >> '${file}'; echo done`])
  t.equal(await job.result(), 'done')
  await allGone(t, pidsIn(file), 'normal end')
})

for (const signal of ['SIGTERM', 'SIGINT', 'SIGKILL'] as const) {
  t.test(`a submitting process killed with ${signal} leaves no command running`, async (t) => {
    const dir = t.testdir()
    const file = path.join(dir, 'pids')
    const script = writeScript(
      dir,
      'submit.mjs',
      `
      import fs from 'node:fs'
      const { LocalExecutor, runCommand } = await import(${JSON.stringify(distUrl('lib/index.js'))})
      const ex = new LocalExecutor({ folder: ${JSON.stringify(`${dir}/%j`)}, maxWorkers: 1 })
      const job = await ex.submit(runCommand, ${JSON.stringify(sleeper(file))})
      while (fs.existsSync(${JSON.stringify(file)}) ? fs.readFileSync(${JSON.stringify(file)}, 'utf8').split('\\n').filter(Boolean).length < 3 : true) {
        await new Promise((r) => setTimeout(r, 20))
      }
      console.log('STARTED', job.jobId)
      await job.result()
    `,
    )
    const { child } = await startNode([script], /STARTED/, { env: plainEnv() })
    const pids = pidsIn(file)
    t.equal(pids.filter(isAlive).length, 3, 'the command runs')
    const exited = new Promise((r) => child.once('exit', r))
    child.kill(signal)
    await exited
    await allGone(t, pids, `submitter ${signal}`)
  })
}

t.test("jobs stopped at any moment of their command's start leave nothing running (the command is started by its guard)", async (t) => {
  const dir = t.testdir()
  const ex = new LocalExecutor({ folder: `${dir}/%j`, maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  const files: string[] = []
  for (let i = 0; i < 12; i++) {
    const file = path.join(dir, `pids-${i}`)
    files.push(file)
    if (i % 3 === 2) ex.updateParameters({ timeoutMin: 0.001 }) // stopped by the watchdog, 60 ms in
    const job = await ex.submit(runCommand, sleeper(file))
    ex.updateParameters({ timeoutMin: null })
    await until(() => job.state !== 'PENDING', 30_000, `job ${i} to start`)
    // from the very start of the task to past its command's spawn
    await new Promise((r) => setTimeout(r, (i % 6) * 20))
    await job.cancel()
    t.ok(job.done(), `job ${i} ended (${job.state})`)
  }
  const pids = files.flatMap(pidsIn)
  await until(() => !pids.some(isAlive), 60_000, 'every process of every group gone').catch(() => {})
  t.same(pids.filter(isAlive), [], 'no process of any command is left')
})
