// Part 2: LocalExecutor mapArray throughput and submit → result latency, side by side with raw piscina
// and raw tinypool running the same function with no files (one run() per task).
//
// Every measurement runs in a fresh child process (see run.ts), which:
//   1. creates its pool (or LocalExecutor) and times one task from there to its result: `startMs`,
//      the cold start (pool creation, thread start, task module load), reported on its own;
//   2. warms up: a batch of trivial tasks, so both threads run and their code is compiled, then (small
//      arrays) untimed runs of N, as the compiler tiers up over the first ~10 (the first 5 are
//      reported on their own: what the first arrays of a process cost);
//   3. times N tasks from the first submit to the last result in hand (the throughput figure: the
//      pool is warm, its creation is NOT included);
//   4. times single submit → result round trips on the warm pool, one after another: the first
//      `latencyFirst` of them (what a short loop of jobs pays, the code of a single job not yet
//      compiled), then, after `latencyWarmup` more, `latencySamples` in the steady state (the
//      compiler has tiered that code up: the single-job path settles after ~1,500 jobs); for the
//      LocalExecutor, also the same folder's file floor: what one job's files alone cost there (see fileFloorMs);
//   5. for the LocalExecutor, checks that the submission and every job's result are on disk.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Piscina } from 'piscina'
import { Tinypool } from 'tinypool'
import { LocalExecutor } from '../lib/index.js'
import { makeFolder, writeAtomic } from '../lib/core/format.js'
import { arrayFolder, EXT } from '../lib/core/paths.js'
import { benchChild, median, quantile } from './stats.js'
import { busy, trivial } from './tasks.js'

export type LocalSystem = 'local' | 'piscina-all' | 'piscina-bounded' | 'tinypool-all' | 'tinypool-bounded'
export const LOCAL_SYSTEMS: LocalSystem[] = ['local', 'piscina-all', 'piscina-bounded', 'tinypool-all', 'tinypool-bounded']
export type Workload = 'trivial' | 'busy'

export interface LocalSpec {
  part: 'local'
  system: LocalSystem
  workload: Workload
  /** milliseconds per task for the busy workload */
  taskMs: number
  n: number
  threads: number
  /** tasks in flight for the *-bounded baselines */
  inFlight: number
  warmup: number
  /**
   * untimed runs of N before the timed ones: the compiler tiers the code up over the first ~10 runs
   * of 1,000 trivial tasks, the baselines' as ours (each run read ~2× faster by then)
   */
  untimedReps: number
  /** timed runs of N in this process (short runs are noisy): the median is kept */
  reps: number
  /** sequential submit → result round trips timed in the steady state, after the run (0: none) */
  latencySamples: number
  /** how many of the first round trips make the "first jobs of a process" figure */
  latencyFirst: number
  /** round trips between those and the steady-state ones, untimed: the compiler tiers the single-job path up */
  latencyWarmup: number
  /** parent folder of the job folders (a fresh one is made inside) */
  dir: string
  keepFiles: boolean
}

export interface LocalResult {
  spec: LocalSpec
  /** pool creation to the first result, ms */
  startMs: number
  /** N tasks: first submit to last result, ms (median of the reps) */
  runMs: number
  /** the same for the first runs of N in the process (median of the first FIRST_RUNS untimed ones), if any */
  firstRunsMs?: number
  jobsPerSec: number
  /** LocalExecutor: time until mapArray returned the jobs (submission file written), ms */
  submitMs?: number
  latencyMedianMs?: number
  latencyP90Ms?: number
  /** median of the first latencyFirst round trips of the process */
  latencyFirstMs?: number
  /** LocalExecutor: median time of one job's file operations alone in the same folder (see fileFloorMs) */
  fileFloorMs?: number
  files?: { submission: boolean; resultFiles: number; covered: number; folder: string }
  /** resident memory of the child at the end, MiB */
  rssMB: number
}

/** How many of the untimed runs make the "first runs of a process" figure. */
export const FIRST_RUNS = 5

const RAW_WORKER = fileURLToPath(new URL('./raw-worker.js', import.meta.url))

interface Runner {
  /** one task, awaited */
  one(x: number): Promise<number>
  /** N tasks as the system's user would send them; returns the sum of the results */
  many(xs: number[]): Promise<number>
  close(): Promise<void>
  submitMs?: number
  folder?: string
  /** LocalExecutor: the array id of the last mapArray */
  lastArray?: string
}

function rawRunner(spec: LocalSpec, kind: 'piscina' | 'tinypool', bounded: boolean): Runner {
  const opts = { filename: RAW_WORKER, minThreads: spec.threads, maxThreads: spec.threads }
  const pool = kind === 'piscina' ? new Piscina(opts) : new Tinypool(opts)
  const name = spec.workload
  const run = (x: number): Promise<number> => pool.run(x, { name }) as Promise<number>
  return {
    one: run,
    async many(xs) {
      if (!bounded) {
        const rs = await Promise.all(xs.map(run))
        let s = 0
        for (const r of rs) s += r
        return s
      }
      // a sensible user: a fixed number of tasks in flight, the next sent as one returns
      let next = 0
      let sum = 0
      const lane = async () => {
        while (next < xs.length) {
          const r = await run(xs[next++])
          sum += r
        }
      }
      await Promise.all(Array.from({ length: Math.min(spec.inFlight, xs.length) }, lane))
      return sum
    },
    close: () => pool.destroy(),
  }
}

function localRunner(spec: LocalSpec): Runner {
  const folder = fs.mkdtempSync(path.join(spec.dir, 'local-'))
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: spec.threads })
  const fn = spec.workload === 'trivial' ? trivial : busy
  const runner: Runner = {
    folder,
    async one(x) {
      const job = await ex.submit(fn, x)
      return await job.result()
    },
    async many(xs) {
      const t0 = performance.now()
      const jobs = await ex.mapArray(fn, xs)
      runner.submitMs = performance.now() - t0
      const rs = await Promise.all(jobs.map((j) => j.result()))
      let s = 0
      for (const r of rs) s += r
      runner.lastArray = jobs[0]?.paths.arrayId
      return s
    },
    close: () => ex.shutdown(),
  }
  return runner
}

/** Checks that the array's submission file and a result for each of its n jobs are on disk. */
function checkFiles(folder: string, arrayId: string, n: number): LocalResult['files'] {
  const dir = arrayFolder(`${folder}/%j`, arrayId, true)
  const names = fs.readdirSync(dir)
  const covered = new Uint8Array(n)
  let resultFiles = 0
  const chunk = new RegExp(`^${arrayId}_(\\d+)-(\\d+)_0_result\\.${EXT}$`)
  for (const name of names) {
    const m = chunk.exec(name)
    if (!m) continue
    resultFiles++
    for (let i = Number(m[1]); i <= Number(m[2]); i++) covered[i] = 1
  }
  // single-element chunks write the job's own result file, in the job's folder (%j = A_i)
  for (let i = 0; i < n; i++) {
    if (covered[i]) continue
    if (fs.existsSync(path.join(folder, `${arrayId}_${i}`, `${arrayId}_${i}_0_result.${EXT}`))) {
      covered[i] = 1
      resultFiles++
    }
  }
  return {
    submission: fs.existsSync(path.join(dir, `${arrayId}_submitted.${EXT}`)),
    resultFiles,
    covered: covered.reduce((a, b) => a + b, 0),
    folder,
  }
}

export async function measureLocal(spec: LocalSpec): Promise<LocalResult> {
  const arg = (i: number) => (spec.workload === 'trivial' ? i : spec.taskMs)
  const expected = (xs: number[]) => (spec.workload === 'trivial' ? xs.reduce((a, b) => a + b + 1, 0) : xs.length * spec.taskMs)

  const t0 = performance.now()
  const runner =
    spec.system === 'local' ? localRunner(spec) : rawRunner(spec, spec.system.startsWith('piscina') ? 'piscina' : 'tinypool', spec.system.endsWith('bounded'))
  await runner.one(arg(0))
  const startMs = performance.now() - t0

  if (spec.warmup > 0) {
    const w = Array.from({ length: spec.warmup }, (_, i) => (spec.workload === 'trivial' ? i : 1))
    await runner.many(w)
  }

  const xs = Array.from({ length: spec.n }, (_, i) => arg(i))
  const first: number[] = []
  for (let rep = 0; rep < spec.untimedReps; rep++) {
    const t1 = performance.now()
    await runner.many(xs)
    if (rep < FIRST_RUNS) first.push(performance.now() - t1)
  }
  const firstRunsMs = first.length ? median(first) : undefined
  const runs: number[] = []
  const submits: number[] = []
  for (let rep = 0; rep < Math.max(1, spec.reps ?? 1); rep++) {
    const t1 = performance.now()
    const sum = await runner.many(xs)
    runs.push(performance.now() - t1)
    if (runner.submitMs !== undefined) submits.push(runner.submitMs)
    if (sum !== expected(xs)) throw new Error(`${spec.system}: wrong results (sum ${sum}, expected ${expected(xs)})`)
  }
  const runMs = median(runs)
  const submitMs = submits.length ? median(submits) : undefined

  let files: LocalResult['files']
  if (spec.system === 'local') {
    files = checkFiles(runner.folder!, runner.lastArray!, spec.n)
  }

  let latencyMedianMs: number | undefined
  let latencyP90Ms: number | undefined
  let latencyFirstMs: number | undefined
  let fileFloor: number | undefined
  if (spec.latencySamples > 0) {
    const roundTrips = async (n: number, start: number): Promise<number[]> => {
      const times: number[] = new Array(n)
      for (let i = 0; i < n; i++) {
        const s = performance.now()
        await runner.one(arg(start + i))
        times[i] = performance.now() - s
      }
      return times
    }
    const first = await roundTrips(spec.latencyFirst, 0)
    if (first.length) latencyFirstMs = median(first)
    await roundTrips(spec.latencyWarmup, spec.latencyFirst)
    const lat = await roundTrips(spec.latencySamples, spec.latencyFirst + spec.latencyWarmup)
    latencyMedianMs = median(lat)
    latencyP90Ms = quantile(lat, 0.9)
    if (runner.folder) fileFloor = fileFloorMs(runner.folder, spec.latencySamples)
  }

  await runner.close()
  if (runner.folder && !spec.keepFiles) fs.rmSync(runner.folder, { recursive: true, force: true })
  return {
    spec,
    startMs,
    runMs,
    firstRunsMs,
    jobsPerSec: spec.n / (runMs / 1000),
    submitMs,
    latencyMedianMs,
    latencyP90Ms,
    latencyFirstMs,
    fileFloorMs: fileFloor,
    files,
    rssMB: process.memoryUsage().rss / 2 ** 20,
  }
}

/**
 * What the files of one job cost in `folder`, with nothing else: its folder made (%j), its submission
 * and its result written as the library writes them (a temporary file renamed), median of `samples`.
 * Creating a file costs from a few µs (tmpfs) to most of a millisecond (an ext4 folder whose block
 * group is crowded): a submit → result round trip cannot be faster than this.
 */
function fileFloorMs(folder: string, samples: number): number {
  const submission = new Uint8Array(500)
  const result = new Uint8Array(200)
  const times: number[] = []
  for (let i = 0; i < samples; i++) {
    const dir = path.join(folder, `floor-${i}`)
    const s = performance.now()
    makeFolder(dir)
    writeAtomic(path.join(dir, `floor-${i}_submitted.${EXT}`), submission)
    writeAtomic(path.join(dir, `floor-${i}_0_result.${EXT}`), result)
    times.push(performance.now() - s)
  }
  return median(times)
}

export function defaultDir(): string {
  return os.tmpdir()
}

// As a child process: node dist/bench/local.js '<LocalSpec as JSON>' → one line "BENCH_RESULT {...}".
benchChild(import.meta.url, measureLocal, false)
