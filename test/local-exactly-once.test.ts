// Exactly once: when a running element is stopped (timeout, cancel) or its thread dies, the
// elements of its chunk that had finished keep their outcomes and none runs again; none is lost.
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { LocalExecutor, type Task } from '../dist/lib/index.js'
import { countRun, countRunLarge } from '../dist/fixtures/trust-tasks.js'
import { listFiles } from './helpers/files.js'
import { until } from './helpers/waiting.js'

/** How many times each index was run, from the lines the tasks appended. */
function runsOf(file: string, n: number): number[] {
  const runs = Array(n).fill(0)
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) if (line) runs[Number(line)]++
  return runs
}

/** countRun or countRunLarge: (file, x, slow, ms), appends x to file, hangs ms when x === slow */
type CountTask<R> = Task<[file: string, x: number, slow: number, ms: number], R>

/** An array of `n` elements of `task` logging to `log`; element `slow` hangs for a minute. */
function countArray<R>(ex: LocalExecutor, task: CountTask<R>, log: string, n: number, slow: number) {
  return ex.mapArray(
    task,
    Array(n).fill(log),
    Array.from({ length: n }, (_, i) => i),
    Array(n).fill(slow),
    Array(n).fill(60_000),
  )
}

/** An earlier array of the task sizes the next one's chunks: many elements per chunk from the start. */
async function warmUp<R>(ex: LocalExecutor, task: CountTask<R>, dir: string, n: number): Promise<void> {
  const jobs = await ex.mapArray(
    task,
    Array(n).fill(path.join(dir, 'warm.txt')),
    Array.from({ length: n }, (_, i) => i),
    Array(n).fill(-1),
    Array(n).fill(0),
  )
  await Promise.all(jobs.map((j) => j.result()))
}

t.test('a timeout in the middle of a chunk of fast elements: every element runs exactly once', async (t) => {
  const dir = t.testdir()
  const log = path.join(dir, 'runs.txt')
  const ex = new LocalExecutor({ folder: `${dir}/%j`, maxWorkers: 2, timeoutMin: 0.01 }) // 0.6 s
  t.teardown(() => ex.shutdown())
  const n = 600
  const slow = 450
  const jobs = await countArray(ex, countRun, log, n, slow)
  await Promise.all(jobs.map((j) => j.wait()))
  t.same(runsOf(log, n), Array(n).fill(1), 'each element ran once')
  t.equal(jobs[slow].state, 'TIMEOUT')
  t.same(
    jobs.map((j, i) => (i === slow ? 'TIMEOUT' : j.state)),
    Array(n)
      .fill('COMPLETED')
      .map((s, i) => (i === slow ? 'TIMEOUT' : s)),
  )
  t.same(
    await Promise.all(jobs.filter((_, i) => i !== slow).map((j) => j.result())),
    Array.from({ length: n }, (_, i) => i).filter((i) => i !== slow),
  )
  t.same(
    listFiles(dir).filter((f) => f.includes('.tmp')),
    [],
    'no temporary file left',
  )
})

t.test('cancelling a running element of a chunk: the others run exactly once and complete', async (t) => {
  const dir = t.testdir()
  const log = path.join(dir, 'runs.txt')
  const ex = new LocalExecutor({ folder: `${dir}/%j`, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  await warmUp(ex, countRun, dir, 200)
  const n = 300
  const slow = 40
  const jobs = await countArray(ex, countRun, log, n, slow)
  await until(() => fs.existsSync(`${log}.slow-started`), 60_000, 'the slow element to start')
  t.equal(jobs[slow].state, 'RUNNING')
  await jobs[slow].cancel()
  t.equal(jobs[slow].state, 'CANCELLED')
  await Promise.all(jobs.map((j) => j.wait()))
  t.same(runsOf(log, n), Array(n).fill(1), 'each element ran once')
  t.same(
    jobs.filter((j) => j.state !== 'COMPLETED').map((j) => j.jobId),
    [jobs[slow].jobId],
  )
})

t.test('large results overflow the shared memory into partial files: still exactly once, no file left over', async (t) => {
  const dir = t.testdir()
  const log = path.join(dir, 'runs.txt')
  const ex = new LocalExecutor({ folder: `${dir}/%j`, maxWorkers: 1, timeoutMin: 0.01 })
  t.teardown(() => ex.shutdown())
  await warmUp(ex, countRunLarge, dir, 100)
  const n = 200
  const slow = 150
  const jobs = await countArray(ex, countRunLarge, log, n, slow)
  await Promise.all(jobs.map((j) => j.wait()))
  t.same(runsOf(log, n), Array(n).fill(1), 'each element ran once')
  t.equal(jobs[slow].state, 'TIMEOUT')
  const values = await Promise.all(jobs.filter((_, i) => i !== slow).map((j) => j.result()))
  t.ok(
    values.every((v, k) => v.startsWith(`${k < slow ? k : k + 1}:`) && v.length === 100_000),
    'every value is its own',
  )
  // a re-attached reader finds every outcome on disk
  const { attachJob } = await import('../dist/lib/index.js')
  for (const i of [0, slow - 1, slow, slow + 1, n - 1]) t.equal(attachJob(`${dir}/%j`, jobs[i].jobId).state, jobs[i].state, `job ${i} on disk`)
  t.same(
    listFiles(dir).filter((f) => f.includes('.tmp')),
    [],
    'no temporary file left',
  )
})

t.test('elements cancelled inside a chunk that is then stopped read CANCELLED on disk too (a re-attached reader, the CLI)', async (t) => {
  const dir = t.testdir()
  const log = path.join(dir, 'runs.txt')
  const ex = new LocalExecutor({ folder: `${dir}/%j`, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  await warmUp(ex, countRun, dir, 200)
  const n = 300
  const slow = 40
  const jobs = await countArray(ex, countRun, log, n, slow)
  await until(() => fs.existsSync(`${log}.slow-started`), 60_000, 'the slow element to start')
  // queued in the slow element's chunk: cancelled here, for its thread to write; then the thread is stopped
  const queued = [slow + 1, slow + 2, slow + 30]
  await Promise.all(queued.map((i) => jobs[i].cancel()))
  await jobs[slow].cancel()
  await Promise.all(jobs.map((j) => j.wait()))
  const { attachJob } = await import('../dist/lib/index.js')
  for (const i of [slow, ...queued]) {
    t.equal(jobs[i].state, 'CANCELLED', `job ${i} in memory`)
    t.equal(attachJob(`${dir}/%j`, jobs[i].jobId).state, 'CANCELLED', `job ${i} on disk`)
  }
  t.same(
    runsOf(log, n),
    Array.from({ length: n }, (_, i) => (queued.includes(i) ? 0 : 1)),
    'the cancelled ones never ran, the others once',
  )
})

t.test('shutdown() in the middle of chunks writing partial files: the caller goes on, every job ends, the files agree, no temporary file', async (t) => {
  const dir = t.testdir()
  const log = path.join(dir, 'runs.txt')
  const ex = new LocalExecutor({ folder: `${dir}/%j`, maxWorkers: 2 })
  await warmUp(ex, countRunLarge, dir, 100)
  const n = 600
  const slow = 400
  const jobs = await countArray(ex, countRunLarge, log, n, slow)
  await until(() => fs.existsSync(log) && runsOf(log, n)[slow] > 0, 60_000, 'the slow element to start')
  await ex.shutdown()
  t.same(
    jobs.filter((j) => !['COMPLETED', 'CANCELLED'].includes(j.state)).map((j) => `${j.jobId} ${j.state}`),
    [],
    'every job completed or was cancelled',
  )
  t.ok(
    runsOf(log, n).every((r) => r <= 1),
    'none ran twice',
  )
  const { attachJob } = await import('../dist/lib/index.js')
  t.same(
    jobs.filter((j) => attachJob(`${dir}/%j`, j.jobId).state !== j.state).map((j) => `${j.jobId} ${j.state} on disk: ${attachJob(`${dir}/%j`, j.jobId).state}`),
    [],
    'what the files say is what the executor said',
  )
  t.same(
    listFiles(dir).filter((f) => f.includes('.tmp')),
    [],
    'no temporary file left',
  )
})
