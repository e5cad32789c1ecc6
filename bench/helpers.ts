// Part 5: the helpers over many jobs, which must cost O(n): asCompleted and monitorJobs over N
// finished jobs (one mapArray of the trivial task, every result in hand before the clock starts), and
// M jobs of one mapArray re-attached with attachJob from their folder, their results read.
//
// As a child process: node dist/bench/helpers.js '<HelpersSpec as JSON>' → one line "BENCH_RESULT {...}".
import fs from 'node:fs'
import path from 'node:path'
import { Writable } from 'node:stream'
import { asCompleted, attachJob, LocalExecutor, monitorJobs } from '../lib/index.js'
import { benchChild, eachRound, fmtMs, fmtStat, stat, table, type Stat, type PartOptions } from './stats.js'
import { trivial } from './tasks.js'

export interface HelpersSpec {
  part: 'helpers'
  /** finished jobs that asCompleted and monitorJobs go over */
  n: number
  /** jobs re-attached */
  m: number
  threads: number
  dir: string
}

export interface HelpersResult {
  spec: HelpersSpec
  asCompletedMs: number
  monitorMs: number
  /** attachJob of every job, then every result() */
  attachMs: number
  /** of which the attachJob calls alone */
  attachOnlyMs: number
}

export async function measureHelpers(spec: HelpersSpec): Promise<HelpersResult> {
  const folder = fs.mkdtempSync(path.join(spec.dir, 'helpers-'))
  const template = `${folder}/%j`
  const ex = new LocalExecutor({ folder: template, maxWorkers: spec.threads })
  try {
    const jobs = await ex.mapArray(
      trivial,
      Array.from({ length: spec.n }, (_, i) => i),
    )
    await Promise.all(jobs.map((j) => j.result()))

    let t0 = performance.now()
    const seen = new Uint8Array(spec.n)
    let count = 0
    for await (const job of asCompleted(jobs)) {
      seen[job.paths.index!]++
      count++
    }
    const asCompletedMs = performance.now() - t0
    if (count !== spec.n || seen.some((x) => x !== 1)) throw new Error(`asCompleted yielded ${count} jobs for ${spec.n}, not each once`)

    const sink = new Writable({ write: (_chunk, _enc, cb) => cb() })
    t0 = performance.now()
    const summary = await monitorJobs(jobs, { stream: sink })
    const monitorMs = performance.now() - t0
    if (summary.states.COMPLETED !== spec.n) throw new Error(`monitorJobs counted ${JSON.stringify(summary.states)} for ${spec.n} jobs`)

    // re-attach: the jobs of another array, as a new process would see them from their ids
    const ran = await ex.mapArray(
      trivial,
      Array.from({ length: spec.m }, (_, i) => i),
    )
    await Promise.all(ran.map((j) => j.result()))
    const ids = ran.map((j) => j.jobId)
    t0 = performance.now()
    const attached = ids.map((id) => attachJob<number>(template, id))
    const attachOnlyMs = performance.now() - t0
    const values = await Promise.all(attached.map((j) => j.result()))
    const attachMs = performance.now() - t0
    if (values.some((v, i) => v !== i + 1)) throw new Error('a re-attached job read a wrong result')
    return { spec, asCompletedMs, monitorMs, attachMs, attachOnlyMs }
  } finally {
    await ex.shutdown()
    fs.rmSync(folder, { recursive: true, force: true })
  }
}

export async function runHelpers(o: PartOptions): Promise<unknown> {
  // the targets' sizes; smoke runs stay short
  const spec: HelpersSpec = { part: 'helpers', n: o.smoke ? 10_000 : 100_000, m: o.smoke ? 2000 : 10_000, threads: o.threads, dir: o.dir }
  const { results: rs, errors } = await eachRound<HelpersResult>(o, 'helpers', 'helpers.js', spec)
  const N = spec.n.toLocaleString('en')
  const M = spec.m.toLocaleString('en')
  const s = (k: keyof HelpersResult) => (rs.length ? stat(rs.map((x) => x[k] as number)) : undefined)
  const summary = { spec, asCompletedMs: s('asCompletedMs'), monitorMs: s('monitorMs'), attachMs: s('attachMs'), attachOnlyMs: s('attachOnlyMs'), errors }
  console.log(`\n5. Helpers over many jobs (finished jobs of one mapArray of the trivial task)`)
  const rows: string[][] = []
  const row = (label: string, x: Stat | undefined) => {
    if (x) rows.push([label, fmtStat(x, fmtMs)])
  }
  row(`asCompleted over ${N} finished jobs`, summary.asCompletedMs)
  row(`monitorJobs over ${N} finished jobs`, summary.monitorMs)
  row(`attachJob of ${M} jobs from their folder + every result()`, summary.attachMs)
  row('   of which the attachJob calls', summary.attachOnlyMs)
  console.log(table(['what', 'time'], rows))
  for (const e of errors) console.log(`   error: ${e}`)
  const full = !o.smoke
  const target = (what: string, x: Stat | undefined) =>
    o.targets.push({
      what,
      target: '< 1 s',
      measured: x ? fmtStat(x, fmtMs) : 'n/a',
      met: x && full ? x.median < 1000 : null,
      note: full ? undefined : 'smoke size',
    })
  target(`asCompleted over ${N} finished jobs`, summary.asCompletedMs)
  target(`monitorJobs over ${N} finished jobs`, summary.monitorMs)
  target(`attachJob of ${M} jobs of one array + their results`, summary.attachMs)
  return summary
}

benchChild(import.meta.url, measureHelpers)
