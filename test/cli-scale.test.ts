// The command line on a big array, as it is left by a submitter that died (or still runs): each
// command reads the array in one listing pass (no stat, no attached job per element), and says
// what it found in one message, not one per job. The file-system calls are counted, not timed.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { arrayStates, findSubmissions } from '../dist/lib/core/info.js'
import { readSubmission } from '../dist/lib/core/format.js'
import { readRunning } from '../dist/lib/core/owner.js'
import { attachJob } from '../dist/lib/index.js'
import { runningPath } from '../dist/lib/core/paths.js'
import { CLI, distUrl } from './helpers/paths.js'
import { until } from './helpers/waiting.js'
import { startNode, writeScript } from './helpers/processes.js'

const N = 5000
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 28 })

// A task whose first ten calls print and take 100 ms (so that the pool sends them one at a time,
// each with its own result), and whose next one never ends: N jobs on one thread, the rest wait.
const TASKS = `
import { task } from ${JSON.stringify(distUrl('lib/index.js'))}
export const step = task(import.meta.url, async (i) => {
  if (i >= 10) return new Promise(() => {})
  console.log('out ' + i)
  await new Promise((r) => setTimeout(r, 100))
  return i
})
`
const SUBMITTER = (folder: string) => `
import { LocalExecutor } from ${JSON.stringify(distUrl('lib/index.js'))}
import { step } from './tasks.mjs'
const ex = new LocalExecutor({ folder: ${JSON.stringify(folder)}, maxWorkers: 1 })
const jobs = await ex.mapArray(step, Array.from({ length: ${N} }, (_, i) => i))
await Promise.all(jobs.slice(0, 10).map((j) => j.wait()))
while (jobs[10].state !== 'RUNNING') await new Promise((r) => setTimeout(r, 10))
console.log('ARRAY ' + jobs[0].paths.arrayId)
await new Promise(() => {})
`

/** Counts the calls that touch the file system per path while `fn` runs. */
function countFs<T>(fn: () => Promise<T>): Promise<{ value: T; calls: number }> {
  const names = ['existsSync', 'statSync', 'readdirSync', 'readFileSync', 'openSync', 'accessSync'] as const
  const saved = names.map((n) => fs[n])
  let calls = 0
  names.forEach((n, k) => {
    ;(fs as unknown as Record<string, unknown>)[n] = (...args: unknown[]) => {
      calls++
      return (saved[k] as (...a: unknown[]) => unknown)(...args)
    }
  })
  return fn().then(
    (value) => {
      names.forEach((n, k) => ((fs as unknown as Record<string, unknown>)[n] = saved[k]))
      return { value, calls }
    },
    (e) => {
      names.forEach((n, k) => ((fs as unknown as Record<string, unknown>)[n] = saved[k]))
      throw e
    },
  )
}

t.test(`an array of ${N} jobs whose submitter is alive, then gone`, async (t) => {
  const dir = t.testdir()
  const folder = path.join(dir, 'logs', '%j')
  writeScript(dir, 'tasks.mjs', TASKS)
  const script = writeScript(dir, 'submitter.mjs', SUBMITTER(folder))
  const { child, match } = await startNode([script], /ARRAY (\S+)\n/, { timeoutMs: 120_000 })
  const arrayId = match[1]
  const exited = new Promise((r) => child.on('exit', r))
  t.teardown(() => child.kill('SIGKILL'))
  const record = readSubmission(findSubmissions(folder)[0].file)

  // alive: the jobs without a result are its; with its heartbeat it says which one runs (the 11th, on
  // its one thread), the others are queued; cancel cannot reach them from here
  const published = runningPath(folder, arrayId, true)
  // what it says follows its chunks within a moment
  await until(() => readRunning(published, record.nonce)?.has(10) === true, 30_000, 'the owner to say it runs the 11th')
  const live = await countFs(() => arrayStates(record, { folder }))
  const count = (state: string) => live.value.states.filter((s) => s === state).length
  t.same({ COMPLETED: count('COMPLETED'), RUNNING: count('RUNNING'), PENDING: count('PENDING') }, { COMPLETED: 10, RUNNING: 1, PENDING: N - 11 })
  t.equal(live.value.states[10], 'RUNNING', 'the one its thread is at')
  t.equal(attachJob(folder, `${arrayId}_10`).state, 'RUNNING', 'attachJob says the same')
  t.equal(attachJob(folder, `${arrayId}_11`).state, 'PENDING')
  t.ok(live.calls < 60, `one listing pass: ${live.calls} file-system calls for ${N} jobs`)
  const cancel = run('cancel', folder, arrayId)
  t.equal(cancel.status, 1, 'they cannot be cancelled from here')
  const messages = cancel.stderr.trim().split('\n')
  t.equal(messages.length, 1, 'one message for all of them')
  t.match(
    messages[0],
    new RegExp(
      `^${N - 10} jobs \\(${arrayId}_10, ${arrayId}_11, ${arrayId}_12, …\\): job ${arrayId}_10 runs in another process \\(pid ${child.pid} on \\S+\\); cancel it from there`,
    ),
  )

  child.kill('SIGKILL')
  await exited
  const dead = await countFs(() => arrayStates(record, { folder }))
  const failed = dead.value.states.filter((s) => s === 'FAILED').length
  t.equal(failed, N - 10, 'its owner gone: the jobs without a result never get one')
  t.match(dead.value.reasons.get(10), /its owner \(pid \d+ on .*\) has exited/)
  t.ok(dead.calls < 60, `one listing pass: ${dead.calls} file-system calls for ${N} jobs`)

  const list = run('list', path.join(dir, 'logs')) // the plain folder: its %j folders are found
  t.equal(list.status, 0, list.stderr)
  t.match(list.stdout, new RegExp(`${arrayId}\\s+${N}\\s+${N - 10} failed, 10 completed\\s+step`))
  const status = JSON.parse(run('status', folder, arrayId, '--json').stdout)
  t.same(status.arrays[0].counts, { COMPLETED: 10, FAILED: N - 10 })
  const wait = run('wait', folder, arrayId)
  t.equal(wait.status, 1, 'wait: not all completed')
  t.equal(wait.stdout, `${arrayId}\t${N} jobs: ${N - 10} failed, 10 completed\n`)
  const result = run('result', folder, arrayId)
  t.equal(result.status, 1)
  t.equal(result.stdout.split('\n').filter(Boolean).length, 10, 'the ten values')
  t.match(result.stdout, new RegExp(`^${arrayId}_0\t0\n${arrayId}_1\t1\n`))
  t.match(result.stderr, new RegExp(`${arrayId}_10\tended as FAILED without a result \\(its owner .* has exited`))
  const logs = run('logs', folder, arrayId)
  t.equal(logs.status, 0, logs.stderr)
  t.equal(logs.stdout.match(/^==> /gm)?.length, 10, 'the logs of the ten that printed')
  t.match(logs.stdout, new RegExp(`==> ${arrayId}_3 <==\nout 3\n`))
  const cancelled = run('cancel', folder, arrayId, '--json')
  t.equal(cancelled.status, 0, 'nothing left to cancel')
  t.equal(JSON.parse(cancelled.stdout).jobs.length, N)
})
