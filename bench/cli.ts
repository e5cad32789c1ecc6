// Part 6: the command line on a 100,000-job folder (issue 12): `submitit-ts list` and `status <array>`
// as a user runs them (a fresh `node dist/lib/cli.js`, its start included), on one mapArray of the
// trivial task (chunk result files), and on one whose submitter died with most jobs unfinished (a
// folder per job under 'logs/%j' for none of them: the scan must not look for each).
//
// As a child process: node dist/bench/cli.js '<CliSpec as JSON>' → one line "BENCH_RESULT {...}".
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { LocalExecutor } from '../lib/index.js'
import { benchChild, eachRound, fmtMs, fmtStat, stat, table, type PartOptions, type Stat } from './stats.js'
import { trivial } from './tasks.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const CLI = path.join(HERE, '..', 'lib', 'cli.js')

export interface CliSpec {
  part: 'cli'
  n: number
  threads: number
  dir: string
}

export interface CliResult {
  spec: CliSpec
  /** one mapArray of n trivial tasks, all completed */
  listMs: number
  statusMs: number
  /** n jobs whose submitter was killed after submitting them (nearly all without a result) */
  deadListMs: number
  deadStatusMs: number
}

/** One command, as a user runs it: wall time of the whole process. */
function timed(args: string[], expect: RegExp): number {
  const t0 = performance.now()
  const out = execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 })
  const ms = performance.now() - t0
  if (!expect.test(out)) throw new Error(`submitit-ts ${args.join(' ')} printed ${out.slice(0, 300)}`)
  return ms
}

// submits n long tasks, says so, and is killed
const SUBMITTER = (folder: string, n: number) => `
import { LocalExecutor } from ${JSON.stringify(pathToFileURL(path.join(HERE, '..', 'lib', 'index.js')).href)}
import { busy } from ${JSON.stringify(pathToFileURL(path.join(HERE, 'tasks.js')).href)}
const ex = new LocalExecutor({ folder: ${JSON.stringify(folder)}, maxWorkers: 2 })
const jobs = await ex.mapArray(busy, Array.from({ length: ${n} }, () => 60_000))
console.log('ARRAY ' + jobs[0].paths.arrayId)
`

export async function measureCli(spec: CliSpec): Promise<CliResult> {
  const root = fs.mkdtempSync(path.join(spec.dir, 'cli-'))
  try {
    const folder = path.join(root, 'done', '%j')
    const ex = new LocalExecutor({ folder, maxWorkers: spec.threads })
    const jobs = await ex.mapArray(
      trivial,
      Array.from({ length: spec.n }, (_, i) => i),
    )
    await Promise.all(jobs.map((j) => j.wait()))
    await ex.shutdown()
    const arrayId = jobs[0].paths.arrayId
    const counts = new RegExp(`${spec.n} completed`)
    const listMs = timed(['list', folder], counts)
    const statusMs = timed(['status', folder, arrayId], counts)

    const dead = path.join(root, 'dead', '%j')
    fs.mkdirSync(path.dirname(dead))
    const script = path.join(root, 'submitter.mjs')
    fs.writeFileSync(script, SUBMITTER(dead, spec.n))
    const deadId = await new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      p.stdout.on('data', (d) => {
        out += d
        const m = /ARRAY (\S+)\n/.exec(out)
        if (m) {
          p.kill('SIGKILL')
          p.on('close', () => resolve(m[1]))
        }
      })
      p.on('error', reject)
    })
    const failed = /\d+ failed/
    const deadListMs = timed(['list', dead], failed)
    const deadStatusMs = timed(['status', dead, deadId], failed)
    return { spec, listMs, statusMs, deadListMs, deadStatusMs }
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }
}

export async function runCli(o: PartOptions): Promise<unknown> {
  const spec: CliSpec = { part: 'cli', n: o.smoke ? 10_000 : 100_000, threads: o.threads, dir: o.dir }
  const { results: rs, errors } = await eachRound<CliResult>(o, 'cli', 'cli.js', spec)
  const N = spec.n.toLocaleString('en')
  const s = (k: keyof CliResult) => (rs.length ? stat(rs.map((x) => x[k] as number)) : undefined)
  const summary = { spec, listMs: s('listMs'), statusMs: s('statusMs'), deadListMs: s('deadListMs'), deadStatusMs: s('deadStatusMs'), errors }
  console.log(`\n6. The command line on a folder of ${N} jobs (one mapArray; the whole process, node's start included)`)
  const rows: string[][] = []
  const row = (label: string, x: Stat | undefined) => {
    if (x) rows.push([label, fmtStat(x, fmtMs)])
  }
  row(`list, ${N} completed jobs`, summary.listMs)
  row(`status <array>, ${N} completed jobs`, summary.statusMs)
  row(`list, ${N} jobs of a dead submitter`, summary.deadListMs)
  row(`status <array>, ${N} jobs of a dead submitter`, summary.deadStatusMs)
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
  target(`submitit-ts list, ${N} jobs`, summary.listMs)
  target(`submitit-ts status <array>, ${N} jobs`, summary.statusMs)
  target(`submitit-ts list, ${N} jobs, submitter gone`, summary.deadListMs)
  return summary
}

benchChild(import.meta.url, measureCli)
