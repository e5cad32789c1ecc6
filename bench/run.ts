// The benchmark driver: `npm run bench` (full size) or `npm run bench -- --smoke` / BENCH_SMOKE=1 (tiny,
// for CI, ~30 s). Every measurement runs in a fresh child process, one at a time; rounds are
// interleaved (round 1 of every system, then round 2...) so that the machine's drift hits all systems
// alike, and every ratio is taken within a round, then its median over the rounds is reported.
// Prints tables and the targets, and writes bench/results/<timestamp>.json and bench/results/latest.json.
// Options: USAGE below (node dist/bench/run.js --help).
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { FIRST_RUNS, LOCAL_SYSTEMS, type LocalResult, type LocalSpec, type LocalSystem, type Workload } from './local.js'
import { OPS, PAYLOADS, type Payload, type SerializationResult, type SerializationSpec } from './serialization.js'
import { fmtBytes, fmtMs, fmtRatio, fmtStat, stat, table, type Stat } from './stats.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
/** the repository root (this file runs as dist/bench/run.js) */
const ROOT = path.resolve(HERE, '..', '..')

export interface Target {
  what: string
  target: string
  measured: string
  /** true: met; false: short; null: not measured in this run */
  met: boolean | null
  note?: string
}

interface Config {
  smoke: boolean
  rounds: number
  parts: string[]
  dir: string
  keepFiles: boolean
  threads: number
  serialization: { nestedBytes: number; arrayN: number; budgetMs: number }
  local: {
    cases: { label: string; workload: Workload; n: number; taskMs: number; latencySamples: number }[]
    warmup: number
    inFlight: number
    /** single jobs: how many first ones make the "first jobs of a process" figure, and how many run untimed after them */
    latency: { first: number; warmup: number }
  }
  realSlurm: boolean
}

const OPTIONS = {
  smoke: { type: 'boolean' },
  rounds: { type: 'string' },
  only: { type: 'string' },
  dir: { type: 'string' },
  'keep-files': { type: 'boolean' },
  out: { type: 'string' },
  'real-slurm': { type: 'boolean' },
  'no-real-slurm': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

const USAGE = `usage: node dist/bench/run.js [options]   (or npm run bench -- [options]; see BENCHMARKS.md)
  --smoke            tiny sizes, no tinypool (~30 s; BENCH_SMOKE=1)
  --rounds N         rounds of every measurement (default 3; BENCH_ROUNDS)
  --only a,b         parts: serialization, local, isolation, slurm, helpers, cli (default all)
  --dir DIR          where job folders go (default the OS temp dir; BENCH_DIR)
  --keep-files       keep the job folders
  --out DIR          where results go (default bench/results)
  --real-slurm       run the 100 jobs on the real cluster also in a smoke run
  --no-real-slurm    skip them (they run by default at full size)
  --help             this text`

function config(): Config {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values']
  try {
    values = parseArgs({ options: OPTIONS }).values
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${USAGE}`)
    process.exit(2)
  }
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const smoke = values.smoke === true || process.env.BENCH_SMOKE === '1'
  const rounds = Number(values.rounds ?? process.env.BENCH_ROUNDS ?? 3)
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got ${values.rounds}`)
  const trivialNs = smoke ? [1000, 10_000] : [1000, 100_000]
  return {
    smoke,
    rounds,
    parts: (values.only ?? 'serialization,local,isolation,slurm,helpers,cli').split(',').map((s) => s.trim()),
    dir: path.resolve(values.dir ?? process.env.BENCH_DIR ?? os.tmpdir()),
    keepFiles: values['keep-files'] === true,
    threads: os.availableParallelism(),
    serialization: { nestedBytes: smoke ? 1_000_000 : 10_000_000, arrayN: 1000, budgetMs: smoke ? 25 : 300 },
    local: {
      cases: [
        ...trivialNs.map((n, i) => ({
          label: `trivial, N=${n.toLocaleString('en')}`,
          workload: 'trivial' as const,
          n,
          taskMs: 0,
          latencySamples: i === 0 ? (smoke ? 30 : 1000) : 0,
        })),
        { label: `10 ms tasks, N=${smoke ? 20 : 200}`, workload: 'busy', n: smoke ? 20 : 200, taskMs: 10, latencySamples: 0 },
      ],
      warmup: smoke ? 200 : 1000,
      inFlight: 64,
      // single jobs: the first ones of a process, then the steady state (see LocalSpec.latencyWarmup)
      latency: { first: smoke ? 30 : 300, warmup: smoke ? 100 : 2000 },
    },
    realSlurm: values['no-real-slurm'] ? false : values['real-slurm'] === true || !smoke,
  }
}

/** Runs one measurement in a fresh node process; its last line "BENCH_RESULT {json}" is the result. */
export function child<T>(script: string, spec: unknown, timeoutMs = 600_000, extraArgs: string[] = []): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...extraArgs, path.join(HERE, script), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d
    })
    p.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d
    })
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs)
    p.on('close', (code, signal) => {
      clearTimeout(timer)
      const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '))
      if (code === 0 && line) resolve(JSON.parse(line.slice('BENCH_RESULT '.length)) as T)
      else reject(new Error(`${script} ${JSON.stringify(spec)} exited ${code ?? signal}: ${err.trim().split('\n').slice(-5).join(' | ')}`))
    })
  })
}

function progress(msg: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${msg}`)
}

// ---------------------------------------------------------------------------------------------------
// Part 1: serialization

interface SerializationSummary {
  /** by payload, by op: ms per task */
  ms: Record<string, Record<string, Stat>>
  /** by payload: library total ÷ JSON round trip, ÷ structuredClone, ÷ bare v8 round trip */
  ratios: Record<string, Record<string, Stat>>
  sizes: Record<string, SerializationResult['sizes']>
  errors: string[]
}

async function runSerialization(cfg: Config, targets: Target[]): Promise<SerializationSummary> {
  const byPayload: Record<string, SerializationResult[]> = {}
  const errors: string[] = []
  for (let r = 0; r < cfg.rounds; r++) {
    for (const payload of PAYLOADS) {
      progress(`serialization: round ${r + 1}/${cfg.rounds}, ${payload}`)
      const spec: SerializationSpec = { part: 'serialization', payload, ...cfg.serialization }
      try {
        ;(byPayload[payload] ??= []).push(await child<SerializationResult>('serialization.js', spec))
      } catch (e) {
        errors.push((e as Error).message)
      }
    }
  }
  progress('')
  const summary: SerializationSummary = { ms: {}, ratios: {}, sizes: {}, errors }
  for (const payload of PAYLOADS) {
    const rs = byPayload[payload] ?? []
    if (rs.length === 0) continue
    summary.sizes[payload] = rs[0].sizes
    summary.ms[payload] = {}
    for (const { key } of OPS) {
      const xs = rs.map((x) => x.ms[key]).filter((x) => x !== undefined)
      if (xs.length) summary.ms[payload][key] = stat(xs)
    }
    summary.ratios[payload] = {
      json: stat(rs.map((x) => x.ms.total / (x.ms.jsonStringify + x.ms.jsonParse))),
      structuredClone: stat(rs.map((x) => x.ms.total / x.ms.structuredClone)),
      bareV8: stat(rs.map((x) => x.ms.total / (x.ms.v8Ser + x.ms.v8Deser))),
      // the library moves the value twice (as an argument, then as the result): per crossing, one of each
      bareV8PerCrossing: stat(rs.map((x) => x.ms.total / (2 * (x.ms.v8Ser + x.ms.v8Deser)))),
    }
  }

  const label: Record<Payload, string> = {
    small: 'small args',
    typed1MB: '1 MiB Float64Array',
    nested10MB: `${(cfg.serialization.nestedBytes / 1e6).toFixed(0)} MB nested object`,
  }
  const cols = PAYLOADS.filter((p) => summary.ms[p])
  const rows: string[][] = []
  for (const { key, label: l } of OPS) {
    if (!cols.some((p) => summary.ms[p][key])) continue
    rows.push([l, ...cols.map((p) => (summary.ms[p][key] ? fmtStat(summary.ms[p][key], fmtMs) : '—'))])
  }
  rows.push(['library total ÷ JSON (stringify+parse)', ...cols.map((p) => fmtRatio(summary.ratios[p].json))])
  rows.push(['library total ÷ structuredClone', ...cols.map((p) => fmtRatio(summary.ratios[p].structuredClone))])
  rows.push(['library total ÷ bare v8 (ser+deser)', ...cols.map((p) => fmtRatio(summary.ratios[p].bareV8))])
  rows.push(['same, per crossing (÷ 2 bare round trips)', ...cols.map((p) => fmtRatio(summary.ratios[p].bareV8PerCrossing))])
  rows.push(['record size (submission, as written: JSON or v8)', ...cols.map((p) => fmtBytes(summary.sizes[p].submissionV8))])
  console.log('\n1. Serialization, per task (median over rounds ±half-range; one job per record unless "in an array")')
  console.log(table(['op', ...cols.map((p) => label[p])], rows))
  console.log(`   "in an array": one record of ${cfg.serialization.arrayN} small tasks (a mapArray submission / a chunk's result), per task.`)
  console.log('   JSON loses typed arrays (a Float64Array becomes an object of 131,072 keys); v8 keeps them.')
  for (const e of errors) console.log(`   error: ${e}`)

  const small = summary.ms.small
  if (small?.total) {
    targets.push({
      what: 'serialization overhead per task, small args (submission + result, encode + decode), one job per record (submit)',
      target: '< 10 µs',
      measured: fmtStat(small.total, fmtMs),
      met: small.total.median < 0.01,
    })
  }
  const nested = summary.ratios.nested10MB?.bareV8PerCrossing
  if (nested) {
    targets.push({
      what: `large values: ${label.nested10MB}, library encode + decode ÷ bare v8.serialize + deserialize, per crossing (argument, result)`,
      target: '≤ 1.5×',
      measured: fmtRatio(nested),
      met: nested.median <= 1.5,
    })
  }
  if (small?.arrayTotal) {
    targets.push({
      what: `same, per task inside mapArray (records of ${cfg.serialization.arrayN})`,
      target: '< 10 µs',
      measured: fmtStat(small.arrayTotal, fmtMs),
      met: small.arrayTotal.median < 0.01,
    })
  }
  return summary
}

// ---------------------------------------------------------------------------------------------------
// Part 2: LocalExecutor vs raw pools

interface LocalCaseSummary {
  label: string
  workload: Workload
  n: number
  systems: Partial<
    Record<
      LocalSystem,
      {
        jobsPerSec: Stat
        startMs: Stat
        submitMs?: Stat
        /** the first runs of N in the process (before the compiler has tiered up) */
        firstRunsMs?: Stat
        latencyMedianMs?: Stat
        latencyP90Ms?: Stat
        /** the first single jobs of the process (see LocalSpec.latencyFirst) */
        latencyFirstMs?: Stat
        fileFloorMs?: Stat
        /** LocalExecutor throughput ÷ this system's, per round */
        localOverThis?: Stat
        files?: LocalResult['files']
      }
    >
  >
  /** LocalExecutor ÷ the faster of the two piscina baselines, per round */
  localOverBestPiscina?: Stat
}

const SYSTEM_LABEL: Record<LocalSystem, string> = {
  local: 'LocalExecutor.mapArray (files on disk)',
  'piscina-all': 'raw piscina, Promise.all over all',
  'piscina-bounded': 'raw piscina, 64 in flight',
  'tinypool-all': 'raw tinypool, Promise.all over all',
  'tinypool-bounded': 'raw tinypool, 64 in flight',
}

async function runLocal(cfg: Config, targets: Target[]): Promise<{ cases: LocalCaseSummary[]; errors: string[] }> {
  const results: Record<string, Record<string, (LocalResult | undefined)[]>> = {}
  const errors: string[] = []
  for (let r = 0; r < cfg.rounds; r++) {
    for (const c of cfg.local.cases) {
      // rotate the order of the systems from round to round: no system always runs first
      // smoke runs leave tinypool out (time); the targets only need piscina
      const systems = cfg.smoke ? LOCAL_SYSTEMS.filter((s) => !s.startsWith('tinypool')) : LOCAL_SYSTEMS
      const order = systems.map((_, i) => systems[(i + r) % systems.length])
      for (const system of order) {
        progress(`local: round ${r + 1}/${cfg.rounds}, ${c.label}, ${system}`)
        const spec = localSpec(cfg, c, system, cfg.dir)
        const slot = ((results[c.label] ??= {})[system] ??= [])
        try {
          const result = await child<LocalResult>('local.js', spec)
          leaveUntilTheEnd(cfg, result)
          slot[r] = result
        } catch (e) {
          slot[r] = undefined
          errors.push((e as Error).message)
        }
      }
    }
  }
  progress('')
  const inMemory = await latencyInMemory(cfg, errors)

  const cases: LocalCaseSummary[] = []
  for (const c of cfg.local.cases) {
    const byRound = results[c.label] ?? {}
    const local = byRound.local ?? []
    const summary: LocalCaseSummary = { label: c.label, workload: c.workload, n: c.n, systems: {} }
    for (const system of LOCAL_SYSTEMS) {
      const rs = byRound[system] ?? []
      const ok = rs.filter((x): x is LocalResult => x !== undefined)
      if (ok.length === 0) continue
      const ratios: number[] = []
      if (system !== 'local')
        rs.forEach((x, r) => {
          if (x && local[r]) ratios.push(local[r]!.jobsPerSec / x.jobsPerSec)
        })
      const opt = (k: keyof LocalResult) => (ok.some((x) => x[k] !== undefined) ? stat(ok.map((x) => x[k] as number)) : undefined)
      summary.systems[system] = {
        jobsPerSec: stat(ok.map((x) => x.jobsPerSec)),
        startMs: stat(ok.map((x) => x.startMs)),
        submitMs: opt('submitMs'),
        firstRunsMs: opt('firstRunsMs'),
        latencyMedianMs: opt('latencyMedianMs'),
        latencyP90Ms: opt('latencyP90Ms'),
        latencyFirstMs: opt('latencyFirstMs'),
        fileFloorMs: opt('fileFloorMs'),
        localOverThis: ratios.length ? stat(ratios) : undefined,
        files: ok[ok.length - 1].files,
      }
    }
    const best: number[] = []
    local.forEach((x, r) => {
      const p = [byRound['piscina-all']?.[r], byRound['piscina-bounded']?.[r]].filter((y): y is LocalResult => y !== undefined)
      if (x && p.length) best.push(x.jobsPerSec / Math.max(...p.map((y) => y.jobsPerSec)))
    })
    if (best.length) summary.localOverBestPiscina = stat(best)
    cases.push(summary)
  }

  console.log(`\n2. LocalExecutor throughput, ${cfg.threads} threads, warm pool (creation not timed; "cold start" = pool creation → first result)`)
  const rows: string[][] = []
  for (const c of cases) {
    for (const system of LOCAL_SYSTEMS) {
      const s = c.systems[system]
      if (!s) continue
      rows.push([
        `${c.label}: ${SYSTEM_LABEL[system]}`,
        fmtStat(s.jobsPerSec),
        system === 'local' ? '1' : s.localOverThis ? fmtRatio(s.localOverThis) : 'n/a',
        fmtStat(s.startMs, fmtMs),
        s.latencyMedianMs ? `${fmtStat(s.latencyMedianMs, fmtMs)} (p90 ${fmtMs(s.latencyP90Ms!.median)})${floorNote(s.fileFloorMs)}` : '',
      ])
    }
  }
  console.log(table(['case: system', 'jobs/s', 'LocalExecutor ÷ this', 'cold start', 'submit → result (warm)'], rows))
  for (const c of cases) {
    const l = c.systems.local
    if (l?.files) {
      console.log(
        `   ${c.label}: mapArray returned after ${fmtStat(l.submitMs!, fmtMs)}; on disk: submission ${l.files.submission ? 'yes' : 'NO'}, ` +
          `${l.files.resultFiles} result files covering ${l.files.covered.toLocaleString('en')}/${c.n.toLocaleString('en')} jobs`,
      )
    }
    const pisc = [c.systems['piscina-all']?.firstRunsMs, c.systems['piscina-bounded']?.firstRunsMs].filter((x): x is Stat => x !== undefined)
    if (l?.firstRunsMs && pisc.length) {
      const raw = Math.min(...pisc.map((x) => x.median))
      console.log(
        `   ${c.label}: the first ${Math.min(FIRST_RUNS, untimedReps(cfg, c))} runs of a process (untimed, the compiler not yet warm): LocalExecutor ${fmtStat(l.firstRunsMs, fmtMs)}, ` +
          `raw piscina ${fmtMs(raw)} (its faster mode): ${(raw / l.firstRunsMs.median).toFixed(2)}×`,
      )
    }
  }
  for (const e of errors) console.log(`   error: ${e}`)

  for (const c of cases) {
    const first = c.systems.local?.latencyFirstMs
    if (!first) continue
    const raw = c.systems['piscina-bounded']?.latencyFirstMs
    console.log(
      `   submit → result, the first ${cfg.local.latency.first} jobs of a process one at a time (the single-job code not yet compiled; "warm": ` +
        `${cfg.local.latency.warmup.toLocaleString('en')} more later): LocalExecutor ${fmtStat(first, fmtMs)}${raw ? `, raw piscina run() ${fmtStat(raw, fmtMs)}` : ''}`,
    )
  }
  for (const c of cases) {
    const lat = c.systems.local?.latencyMedianMs
    if (!lat) continue
    const raw = c.systems['piscina-bounded']?.latencyMedianMs
    targets.push({
      what: `LocalExecutor submit → result (warm, one job at a time, submission and result on disk)${raw ? `; raw piscina run(): ${fmtMs(raw.median)}` : ''}`,
      target: '≤ 250 µs',
      measured: `${fmtStat(lat, fmtMs)}${floorNote(c.systems.local?.fileFloorMs)}`,
      met: lat.median <= 0.25,
    })
  }
  if (inMemory) {
    console.log(
      `   submit → result with the job folders in ${inMemory.dir} (memory): ${fmtStat(inMemory.latency, fmtMs)}${floorNote(inMemory.floor)}` +
        (inMemory.first ? `; the first ${cfg.local.latency.first} jobs of a process ${fmtStat(inMemory.first, fmtMs)}` : ''),
    )
    targets.push({
      what: `same, job folders in ${inMemory.dir} (memory): the library's own cost, without the disk's file creation`,
      target: '≤ 250 µs',
      measured: `${fmtStat(inMemory.latency, fmtMs)}${floorNote(inMemory.floor)}`,
      met: inMemory.latency.median <= 0.25,
    })
  }
  for (const c of cases) {
    if (c.workload !== 'trivial') continue
    const r = c.localOverBestPiscina
    const filesOk = c.systems.local?.files && c.systems.local.files.covered === c.n && c.systems.local.files.submission
    targets.push({
      what: `LocalExecutor mapArray, trivial tasks, ${c.label.split(', ')[1]}, files on disk, ÷ raw piscina (the faster of its two modes)`,
      target: '≥ 1× (floor)',
      measured: r ? fmtRatio(r) : 'n/a',
      met: r ? r.median >= 1 && !!filesOk : null,
      note: filesOk ? undefined : "not every job's result was found on disk",
    })
    targets.push({
      what: `same, ${c.label.split(', ')[1]}`,
      target: '≥ 3× (aim)',
      measured: r ? fmtRatio(r) : 'n/a',
      met: r ? r.median >= 3 && !!filesOk : null,
    })
  }
  for (const c of cases) {
    if (c.workload !== 'busy' || !c.localOverBestPiscina) continue
    targets.push({
      what: `LocalExecutor mapArray, ${c.label}, ÷ raw piscina (the faster of its two modes): the CPU is the limit`,
      target: '≥ 0.95× (~1×)',
      measured: fmtRatio(c.localOverBestPiscina),
      met: c.localOverBestPiscina.median >= 0.95,
    })
  }
  return { cases, errors }
}

/** What one job's files alone cost in the same folder (see fileFloorMs in local.ts) */
function floorNote(floor: Stat | undefined): string {
  return floor ? `; its files alone ${fmtMs(floor.median)}` : ''
}

type LocalCase = Config['local']['cases'][number]

/** Short runs are noisy (several are timed), and timed only once the compiler has tiered up. */
const isSmallArray = (c: Pick<LocalCase, 'workload' | 'n'>) => c.workload === 'trivial' && c.n <= 2000
const untimedReps = (cfg: Config, c: Pick<LocalCase, 'workload' | 'n'>) => (isSmallArray(c) ? (cfg.smoke ? 2 : 15) : 0)

/**
 * The job folders of the local measurements, removed once the bench is done. Removing 100,000 files
 * at once slows file creation on the same disk for a while after (an ext4 mounted with `discard`
 * trims the freed blocks in the background: creating a file took 60 µs instead of 7 here), which
 * would charge one measurement for the clean-up of the one before it.
 */
const leftovers: string[] = []

function leaveUntilTheEnd(cfg: Config, r: LocalResult): void {
  if (r.files?.folder && !cfg.keepFiles) leftovers.push(r.files.folder)
}

function removeLeftovers(): void {
  for (const folder of leftovers.splice(0)) fs.rmSync(folder, { recursive: true, force: true })
}

/** One measurement of local case `c` on `system`, its job folders in `dir`. */
function localSpec(cfg: Config, c: LocalCase, system: LocalSystem, dir: string): LocalSpec {
  return {
    part: 'local',
    system,
    workload: c.workload,
    taskMs: c.taskMs,
    n: c.n,
    threads: cfg.threads,
    inFlight: cfg.local.inFlight,
    warmup: c.workload === 'busy' ? 2 * cfg.threads : cfg.local.warmup,
    untimedReps: untimedReps(cfg, c),
    reps: isSmallArray(c) ? 5 : 1,
    latencySamples: c.latencySamples,
    latencyFirst: c.latencySamples > 0 ? cfg.local.latency.first : 0,
    latencyWarmup: c.latencySamples > 0 ? cfg.local.latency.warmup : 0,
    dir,
    // removed by the parent at the end of the bench (see removeLeftovers)
    keepFiles: true,
  }
}

/** The file system `dir` is on: stat -f names ext4 "ext2/ext3" (one magic number for the three), findmnt tells them apart. */
function fsTypeOf(dir: string): string | undefined {
  return sh('findmnt', ['-n', '-f', '-o', 'FSTYPE', '-T', dir]) || sh('stat', ['-f', '-c', '%T', dir])
}

/** A memory file system for the job folders (/dev/shm), when the bench's folder is on a disk. */
function memoryFolder(cfg: Config): string | undefined {
  const dir = '/dev/shm'
  if (fsTypeOf(cfg.dir) === 'tmpfs' || fsTypeOf(dir) !== 'tmpfs') return undefined
  try {
    fs.accessSync(dir, fs.constants.W_OK)
    return dir
  } catch {
    return undefined
  }
}

/**
 * The submit → result round trip again with the job folders in memory: on a disk where creating a
 * file costs most of a millisecond, the round trip measures the disk; this one, the library.
 */
async function latencyInMemory(cfg: Config, errors: string[]): Promise<{ dir: string; latency: Stat; first?: Stat; floor?: Stat } | undefined> {
  const dir = memoryFolder(cfg)
  const c = cfg.local.cases.find((x) => x.latencySamples > 0)
  if (!dir || !c) return undefined
  const rs: LocalResult[] = []
  for (let r = 0; r < cfg.rounds; r++) {
    progress(`local: round ${r + 1}/${cfg.rounds}, submit → result in ${dir}`)
    try {
      const result = await child<LocalResult>('local.js', localSpec(cfg, c, 'local', dir))
      leaveUntilTheEnd(cfg, result)
      rs.push(result)
    } catch (e) {
      errors.push((e as Error).message)
    }
  }
  progress('')
  const lat = rs.filter((x) => x.latencyMedianMs !== undefined)
  if (lat.length === 0) return undefined
  const floors = lat.filter((x) => x.fileFloorMs !== undefined).map((x) => x.fileFloorMs!)
  const firsts = lat.filter((x) => x.latencyFirstMs !== undefined).map((x) => x.latencyFirstMs!)
  return {
    dir,
    latency: stat(lat.map((x) => x.latencyMedianMs!)),
    first: firsts.length ? stat(firsts) : undefined,
    floor: floors.length ? stat(floors) : undefined,
  }
}

// ---------------------------------------------------------------------------------------------------

/** The machine's CPU time so far (the first line of /proc/stat, in ticks): undefined off Linux. */
function cpuTimes(): { steal: number; total: number } | undefined {
  try {
    const ticks = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
    // user nice system idle iowait irq softirq steal (guest time is counted in user already)
    return { steal: ticks[7] ?? 0, total: ticks.slice(0, 8).reduce((a, b) => a + b, 0) }
  } catch {
    return undefined
  }
}

/**
 * How much of the CPU time since `start` the host of this virtual machine gave to others (steal):
 * the load average cannot show it, and it slows every figure of a run (seen at 30%+ on a shared host).
 */
function stolenSince(start: ReturnType<typeof cpuTimes>): number | undefined {
  const end = cpuTimes()
  if (!start || !end || end.total <= start.total) return undefined
  return (100 * (end.steal - start.steal)) / (end.total - start.total)
}

const STEAL_WARN_PERCENT = 5

function sh(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], cwd: ROOT }).trim()
  } catch {
    return undefined
  }
}

function printTargets(targets: Target[]): void {
  console.log('\nTargets (informative: a figure short of its target does not fail the run)')
  console.log(
    table(
      ['', 'target', 'measured', 'verdict'],
      targets.map((t) => [t.what, t.target, t.measured, t.met === null ? 'not measured' : t.met ? 'met' : `SHORT${t.note ? ` (${t.note})` : ''}`]),
    ),
  )
  const short = targets.filter((t) => t.met === false)
  if (short.length) console.log(`\nShort of target: ${short.map((t) => `${t.what} (${t.measured}, target ${t.target})`).join('; ')}`)
}

async function main(): Promise<void> {
  const cfg = config()
  const started = new Date()
  const meta = {
    date: started.toISOString(),
    node: process.version,
    v8: process.versions.v8,
    cpus: os.cpus().length,
    availableParallelism: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.type()} ${os.release()}`,
    commit: sh('git', ['rev-parse', '--short', 'HEAD']),
    dirty: (sh('git', ['status', '--porcelain', 'lib', 'worker']) ?? '') !== '',
    dirFs: fsTypeOf(cfg.dir),
    /** the machine's load before and after: other work running during the bench skews every figure */
    loadavgBefore: os.loadavg(),
    loadavgAfter: [] as number[],
    /** the share of CPU time the VM's host took during the bench (see stolenSince) */
    stealPercent: undefined as number | undefined,
    config: cfg,
  }
  const cpuAtStart = cpuTimes()
  console.log(
    `submitit-ts benchmarks${cfg.smoke ? ' (SMOKE size: tiny, figures only indicative)' : ''}: ` +
      `Node ${meta.node}, ${meta.availableParallelism} cores (${meta.cpuModel}), ${cfg.rounds} rounds, each measurement in a fresh process; ` +
      `job files in ${cfg.dir} (${meta.dirFs ?? '?'})`,
  )

  if (meta.loadavgBefore[0] > 0.75 * meta.availableParallelism) {
    console.log(
      `WARNING: the machine is busy (load average ${meta.loadavgBefore.map((x) => x.toFixed(1)).join(', ')} on ${meta.availableParallelism} cores): figures will be low and noisy`,
    )
  }
  const targets: Target[] = []
  const out: Record<string, unknown> = { meta }
  try {
    if (cfg.parts.includes('serialization')) out.serialization = await runSerialization(cfg, targets)
    if (cfg.parts.includes('local')) out.local = await runLocal(cfg, targets)
    if (cfg.parts.includes('isolation')) {
      const { runIsolation } = await import('./isolation.js')
      out.isolation = await runIsolation({ smoke: cfg.smoke, rounds: cfg.rounds, threads: cfg.threads, dir: cfg.dir, child, progress, targets })
    }
    if (cfg.parts.includes('slurm')) {
      const slurm = await import('./slurm.js').catch((e: Error) => ({ error: e }))
      if ('error' in slurm) console.log(`\n3./4. Slurm: skipped: ${slurm.error.message}`)
      else out.slurm = await slurm.runSlurm({ smoke: cfg.smoke, rounds: cfg.rounds, realSlurm: cfg.realSlurm, child, progress, targets })
    }
    if (cfg.parts.includes('helpers')) {
      const { runHelpers } = await import('./helpers.js')
      out.helpers = await runHelpers({ smoke: cfg.smoke, rounds: cfg.rounds, threads: cfg.threads, dir: cfg.dir, child, progress, targets })
    }
    if (cfg.parts.includes('cli')) {
      const { runCli } = await import('./cli.js')
      out.cli = await runCli({ smoke: cfg.smoke, rounds: cfg.rounds, threads: cfg.threads, dir: cfg.dir, child, progress, targets })
    }
  } finally {
    progress('removing the job folders')
    removeLeftovers()
    progress('')
  }
  printTargets(targets)
  out.targets = targets
  meta.config = cfg
  meta.loadavgAfter = os.loadavg()
  Object.assign(meta, { seconds: (Date.now() - started.getTime()) / 1000 })
  meta.stealPercent = stolenSince(cpuAtStart)
  if (meta.stealPercent !== undefined && meta.stealPercent >= STEAL_WARN_PERCENT) {
    console.log(
      `\nWARNING: the virtual machine's host took ${meta.stealPercent.toFixed(0)}% of its CPU time during the bench (steal time): ` +
        'every figure is low and noisy; compare only runs on a quiet host',
    )
  }

  const { values } = parseArgs({ options: { out: { type: 'string' } }, strict: false })
  const outDir = path.resolve(typeof values.out === 'string' ? values.out : path.join(ROOT, 'bench', 'results'))
  fs.mkdirSync(outDir, { recursive: true })
  const file = path.join(outDir, `${started.toISOString().replace(/[:.]/g, '-')}${cfg.smoke ? '-smoke' : ''}.json`)
  const json = JSON.stringify(out, null, 1)
  fs.writeFileSync(file, json)
  fs.writeFileSync(path.join(outDir, 'latest.json'), json)
  console.log(`\nWrote ${path.relative(process.cwd(), file)} and latest.json (${((Date.now() - started.getTime()) / 1000).toFixed(0)} s)`)
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e: Error) => {
    console.error(e.stack ?? e.message)
    process.exitCode = 1
  })
}
