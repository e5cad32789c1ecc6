// Part 2b: what isolation: 'process' costs against the thread pool (issue 8 item 10): one job at a
// time (submit → result, a process started per job against a pool call) and a mapArray, each in a
// fresh child process (run.ts), trivial tasks, the submission and results on disk either way.
import fs from 'node:fs'
import path from 'node:path'
import { LocalExecutor } from '../lib/index.js'
import { benchChild, fmtMs, fmtStat, stat, table, type Stat, type PartOptions } from './stats.js'
import { trivial } from './tasks.js'

export interface IsolationSpec {
  part: 'isolation'
  isolation: 'thread' | 'process'
  /** jobs one at a time, and elements of the mapArray */
  n: number
  threads: number
  dir: string
}

export interface IsolationResult {
  spec: IsolationSpec
  /** one job, submit → result, warm (median), ms */
  oneMs: number
  /** mapArray of n: first submit to last result, ms */
  arrayMs: number
}

export async function measureIsolation(spec: IsolationSpec): Promise<IsolationResult> {
  const folder = fs.mkdtempSync(path.join(spec.dir, 'isolation-'))
  const ex = new LocalExecutor({ folder: `${folder}/%j`, isolation: spec.isolation, maxWorkers: spec.threads })
  try {
    await (await ex.submit(trivial, 0)).result() // warm: pool threads or the module cache
    const ones: number[] = []
    for (let i = 0; i < spec.n; i++) {
      const t0 = performance.now()
      if ((await (await ex.submit(trivial, i)).result()) !== i + 1) throw new Error('a wrong result')
      ones.push(performance.now() - t0)
    }
    const t0 = performance.now()
    const jobs = await ex.mapArray(
      trivial,
      Array.from({ length: spec.n }, (_, i) => i),
    )
    const values = await Promise.all(jobs.map((j) => j.result()))
    const arrayMs = performance.now() - t0
    if (values.some((v, i) => v !== i + 1)) throw new Error('a wrong result in the array')
    return { spec, oneMs: stat(ones).median, arrayMs }
  } finally {
    await ex.shutdown()
    fs.rmSync(folder, { recursive: true, force: true })
  }
}

export async function runIsolation(o: PartOptions): Promise<unknown> {
  const n = o.smoke ? 5 : 40
  const rs: Record<'thread' | 'process', IsolationResult[]> = { thread: [], process: [] }
  const errors: string[] = []
  for (let r = 0; r < o.rounds; r++) {
    for (const isolation of ['thread', 'process'] as const) {
      o.progress(`isolation: round ${r + 1}/${o.rounds}, ${isolation}`)
      try {
        rs[isolation].push(
          await o.child<IsolationResult>('isolation.js', { part: 'isolation', isolation, n, threads: o.threads, dir: o.dir } satisfies IsolationSpec, 300_000),
        )
      } catch (e) {
        errors.push((e as Error).message)
      }
    }
  }
  o.progress('')
  const s = (xs: IsolationResult[], k: 'oneMs' | 'arrayMs'): Stat | undefined => (xs.length ? stat(xs.map((x) => x[k])) : undefined)
  const summary = {
    n,
    thread: { oneMs: s(rs.thread, 'oneMs'), arrayMs: s(rs.thread, 'arrayMs') },
    process: { oneMs: s(rs.process, 'oneMs'), arrayMs: s(rs.process, 'arrayMs') },
    errors,
  }
  console.log(`\n2b. LocalExecutor isolation: 'process' vs 'thread' (trivial tasks, ${n} jobs one at a time, then a mapArray of ${n})`)
  const show = (x: Stat | undefined) => (x ? fmtStat(x, fmtMs) : 'n/a')
  console.log(
    table(
      ['isolation', 'one job (submit → result)', `mapArray of ${n}`],
      (['thread', 'process'] as const).map((k) => [k, show(summary[k].oneMs), show(summary[k].arrayMs)]),
    ),
  )
  const [pt, pp] = [summary.thread.oneMs?.median, summary.process.oneMs?.median]
  if (pt !== undefined && pp !== undefined)
    console.log(`   a job's own process costs ~${fmtMs(pp - pt)} more per job (a Node start and the task module's import)`)
  for (const e of errors) console.log(`   error: ${e}`)
  return summary
}

// As a child process: node dist/bench/isolation.js '<IsolationSpec as JSON>' → one line "BENCH_RESULT {...}".
benchChild(import.meta.url, measureIsolation)
