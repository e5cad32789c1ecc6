// Parts 3 and 4: the Slurm client's costs.
//   3. polling: scheduler calls per poll and client CPU per poll while watching M jobs (one mapArray of
//      M elements, every job waited on, as `await Promise.all(jobs.map(j => j.result()))` does), with
//      the fake Slurm commands of fixtures/fake-slurm printing an sacct table of that size; then the
//      delay from the jobs' end (sacct flips to COMPLETED) to the client seeing it; and the real cluster
//      for 100 jobs (one round: it takes a while), where a job's end is its result file's mtime.
//   4. submission: client time (wall and CPU) of mapArray of 10,000 elements with the fake sbatch:
//      with one sbatch (maxArraySize above 10,000) and with the cluster's MaxArraySize (1001: 10 arrays).
// Guarded: without lib/slurm/executor.js (or sbatch/sinfo for the real cluster) it prints 'skipped: why'.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Target } from './run.js'
import { benchChild, fmtMs, fmtNum, fmtStat, median, quantile, stat, table, type Stat, type PartOptions } from './stats.js'
import { busy, trivial } from './tasks.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(HERE, '..', '..')
const FAKE_BIN = path.join(ROOT, 'fixtures', 'fake-slurm')

export interface SlurmSpec {
  part: 'slurm'
  kind: 'fake' | 'real'
  /** jobs watched (elements of the one mapArray) */
  m: number
  /** maxArraySize given to the executor (undefined: ask the cluster) */
  maxArraySize?: number
  /** polls timed for the CPU figure */
  polls: number
  /** poll period used for the CPU figure, ms (fast, to get many polls) */
  pollMs: number
  dir: string
  /** fake: this many jobs of an earlier array finished first, still known to the watcher (a long-lived process) */
  settled?: number
  /** the real cluster: elements per Slurm array task (issue 11), threads per pack, and a CPU-bound task of taskMs (else trivial) */
  chunkSize?: number | 'auto'
  cpusPerTask?: number
  taskMs?: number
}

export interface SlurmResult {
  spec: SlurmSpec
  submitWallMs: number
  submitCpuMs: number
  sbatchCalls: number
  polls: number
  schedulerCallsPerPoll: number
  /** client CPU (user + system of this process) per poll, ms: result-file checks + sacct call + parsing */
  cpuPerPollMs: number
  wallPerPollMs: number
  /** from the jobs' end to every wait() resolved, ms (fake: sacct flipped; real: per job, from result mtime) */
  endToSeenMs: number
  endToSeenP90Ms?: number
  totalMs?: number
  /** the real cluster (on this machine): share of the machine's CPU time busy during the run (/proc/stat) */
  machineBusy?: number
}

interface SlurmModules {
  SlurmExecutor: new (
    o: Record<string, unknown>,
  ) => {
    mapArray(
      fn: unknown,
      xs: number[],
    ): Promise<{ jobId: string; wait(): Promise<void>; result(): Promise<unknown>; paths: { resultFile(t?: number): string } }[]>
    shutdown(): Promise<void>
  }
  getSharedWatcher(o?: Record<string, unknown>): { stats: { polls: number; schedulerCalls: number; sacctCalls: number; squeueCalls: number } }
  resetSharedWatcher(): void
  nextDelay(ageMs: number, o?: Record<string, unknown>): number
}

async function load(): Promise<SlurmModules> {
  const ex = (await import('../lib/slurm/executor.js' as string)) as Record<string, unknown>
  const w = (await import('../lib/slurm/watcher.js' as string)) as Record<string, unknown>
  if (typeof ex.SlurmExecutor !== 'function') throw new Error('lib/slurm/executor.js has no SlurmExecutor')
  for (const k of ['getSharedWatcher', 'resetSharedWatcher', 'nextDelay']) if (typeof w[k] !== 'function') throw new Error(`lib/slurm/watcher.js has no ${k}`)
  return { SlurmExecutor: ex.SlurmExecutor, ...w } as unknown as SlurmModules
}

const cpuMs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function waitFor(cond: () => boolean, timeoutMs: number, stepMs = 5): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out')
    await sleep(stepMs)
  }
}

export async function measureSlurm(spec: SlurmSpec): Promise<SlurmResult> {
  const lib = await load()
  const folder = fs.mkdtempSync(path.join(spec.dir, 'slurm-'))
  const fakeDir = path.join(folder, 'fake-state')
  // The fakes through the environment (not the executor's `commands` option, which gives the executor
  // a watcher of its own): the executor then uses the process-wide watcher, created here first so
  // that its cadence and its stats are ours.
  if (spec.kind === 'fake') Object.assign(process.env, { SUBMITIT_SLURM_BIN_DIR: FAKE_BIN, FAKE_SLURM_DIR: fakeDir })
  const fast = { minDelayMs: spec.pollMs, maxDelayMs: spec.pollMs, factor: 1, resultCheckMs: spec.pollMs }
  // the real cluster: the watcher's default cadence (what a user gets); the fake: a fast fixed one
  const watcher = lib.getSharedWatcher(spec.kind === 'fake' ? fast : {})
  // one folder for every job: a %j template makes the executor submit held and `scontrol release`
  // (the fake scontrol does not do release)
  const ex = new lib.SlurmExecutor({
    folder: spec.kind === 'fake' ? `${folder}/jobs` : `${folder}/%j`,
    ...(spec.maxArraySize ? { maxArraySize: spec.maxArraySize } : {}),
    ...(spec.chunkSize ? { chunkSize: spec.chunkSize } : {}),
    ...(spec.cpusPerTask ? { cpusPerTask: spec.cpusPerTask } : {}),
  })
  const xs = Array.from({ length: spec.m }, (_, i) => i)
  if (spec.kind === 'fake' && spec.settled) {
    // an earlier array, ended: its jobs stay in the watcher (their state() still answers), never polled again
    const earlier = await ex.mapArray(
      trivial,
      Array.from({ length: spec.settled }, (_, i) => i),
    )
    fs.writeFileSync(path.join(fakeDir, 'sacct.txt'), earlier.map((j) => `${j.jobId}|COMPLETED|0:0`).join('\n') + '\n')
    await Promise.all(earlier.map((j) => j.wait()))
  }

  // 4. submission
  const c0 = cpuMs()
  const stat0 = spec.kind === 'real' ? procStat() : undefined
  const t0 = performance.now()
  const jobs = spec.taskMs
    ? await ex.mapArray(
        busy,
        xs.map(() => spec.taskMs!),
      )
    : await ex.mapArray(trivial, xs)
  const submitWallMs = performance.now() - t0
  const submitCpuMs = cpuMs() - c0
  const arrayIds = [...new Set(jobs.map((j) => j.jobId.split('_')[0]))]
  const sbatchCalls = arrayIds.length

  let polls = 0,
    schedulerCallsPerPoll = NaN,
    cpuPerPollMs = NaN,
    wallPerPollMs = NaN,
    endToSeenMs = NaN
  let endToSeenP90Ms: number | undefined
  let totalMs: number | undefined
  let machineBusy: number | undefined
  if (spec.kind === 'fake') {
    // sacct prints one row per array task, as the real one does for running arrays
    const sacctFile = path.join(fakeDir, 'sacct.txt')
    const rows = (state: string) => jobs.map((j) => `${j.jobId}|${state}|0:0`).join('\n') + '\n'
    fs.writeFileSync(sacctFile, rows('RUNNING'))
    const seen: number[] = new Array(jobs.length)
    let settled = 0
    jobs.forEach((j, i) => {
      void j.wait().then(() => {
        seen[i] = performance.now()
        settled++
      })
    })
    // warm up two polls, then time `polls` polls
    const s = watcher.stats
    const p0 = s.polls
    await waitFor(() => s.polls >= p0 + 2, 120_000)
    const [polls0, calls0, cpu0, wall0] = [s.polls, s.schedulerCalls, cpuMs(), performance.now()]
    await waitFor(() => s.polls >= polls0 + spec.polls, 600_000)
    polls = s.polls - polls0
    schedulerCallsPerPoll = (s.schedulerCalls - calls0) / polls
    cpuPerPollMs = (cpuMs() - cpu0) / polls
    wallPerPollMs = (performance.now() - wall0) / polls
    // the jobs end: sacct now says COMPLETED
    const tEnd = performance.now()
    fs.writeFileSync(sacctFile + '.tmp', rows('COMPLETED'))
    fs.renameSync(sacctFile + '.tmp', sacctFile)
    await waitFor(() => settled === jobs.length, 600_000)
    endToSeenMs = Math.max(...seen) - tEnd
  } else {
    const s = watcher.stats
    const [polls0, calls0, cpu0, wall0] = [s.polls, s.schedulerCalls, cpuMs(), performance.now()]
    const seenAt: number[] = new Array(jobs.length)
    await Promise.all(
      jobs.map((j, i) =>
        j.result().then(() => {
          seenAt[i] = Date.now()
        }),
      ),
    )
    totalMs = performance.now() - t0
    const stat1 = procStat()
    if (stat0 && stat1) machineBusy = (stat1.busy - stat0.busy) / Math.max(1, stat1.total - stat0.total)
    polls = s.polls - polls0
    schedulerCallsPerPoll = (s.schedulerCalls - calls0) / Math.max(polls, 1)
    cpuPerPollMs = (cpuMs() - cpu0) / Math.max(polls, 1)
    wallPerPollMs = (performance.now() - wall0) / Math.max(polls, 1)
    const delays = jobs.map((j, i) => seenAt[i] - fs.statSync(j.paths.resultFile(0)).mtimeMs)
    endToSeenMs = median(delays)
    endToSeenP90Ms = quantile(delays, 0.9)
  }
  await ex.shutdown()
  lib.resetSharedWatcher()
  fs.rmSync(folder, { recursive: true, force: true })
  return {
    spec,
    submitWallMs,
    submitCpuMs,
    sbatchCalls,
    polls,
    schedulerCallsPerPoll,
    cpuPerPollMs,
    wallPerPollMs,
    endToSeenMs,
    endToSeenP90Ms,
    totalMs,
    machineBusy,
  }
}

/** Scheduler calls in the first minute and per minute later, at the watcher's default cadence. */
function callsPerMinute(nextDelay: SlurmModules['nextDelay'], callsPerPoll: number): { firstMinute: number; after10Min: number } {
  let t = 0,
    n = 0
  while ((t += nextDelay(t)) <= 60_000) n++
  return { firstMinute: n * callsPerPoll, after10Min: (60_000 / nextDelay(600_000)) * callsPerPoll }
}

/** The Slurm part runs no threads nor job folders of its own; it may use the real cluster. */
type RunOptions = Omit<PartOptions, 'threads' | 'dir'> & { realSlurm: boolean }

export async function runSlurm(o: RunOptions): Promise<unknown> {
  let lib: SlurmModules
  try {
    lib = await load()
  } catch (e) {
    console.log(`\n3./4. Slurm: skipped: ${(e as Error).message}`)
    return { skipped: (e as Error).message }
  }
  const dir = os.tmpdir()
  const ms = o.smoke ? [10, 1000] : [10, 1000, 10_000]
  const errors: string[] = []
  const fake: Record<number, SlurmResult[]> = {}
  const submit: Record<string, SlurmResult[]> = {}
  const submitN = o.smoke ? 1000 : 10_000
  // a few jobs watched beside many finished ones (a long-lived process: a sweep driver, a notebook)
  const settledN = o.smoke ? 10_000 : 100_000
  const besideSettled: SlurmResult[] = []
  for (let r = 0; r < o.rounds; r++) {
    for (const m of ms) {
      o.progress(`slurm (fake): round ${r + 1}/${o.rounds}, ${m} jobs`)
      try {
        ;(fake[m] ??= []).push(
          await o.child<SlurmResult>(
            'slurm.js',
            { part: 'slurm', kind: 'fake', m, maxArraySize: 100_000, polls: o.smoke ? 3 : 10, pollMs: 100, dir } satisfies SlurmSpec,
            120_000,
          ),
        )
      } catch (e) {
        errors.push((e as Error).message)
      }
    }
    o.progress(`slurm (fake): round ${r + 1}/${o.rounds}, 10 jobs beside ${settledN} finished ones`)
    try {
      besideSettled.push(
        await o.child<SlurmResult>(
          'slurm.js',
          { part: 'slurm', kind: 'fake', m: 10, settled: settledN, maxArraySize: 1_000_000, polls: o.smoke ? 3 : 10, pollMs: 100, dir } satisfies SlurmSpec,
          300_000,
        ),
      )
    } catch (e) {
      errors.push((e as Error).message)
    }
    // 4. with the cluster's MaxArraySize (1001 in the fake config): several sbatch
    o.progress(`slurm (fake): round ${r + 1}/${o.rounds}, submit ${submitN} at MaxArraySize`)
    try {
      ;(submit.clusterMax ??= []).push(
        await o.child<SlurmResult>('slurm.js', { part: 'slurm', kind: 'fake', m: submitN, polls: 1, pollMs: 100, dir } satisfies SlurmSpec, 120_000),
      )
    } catch (e) {
      errors.push((e as Error).message)
    }
  }
  submit.oneSbatch = fake[submitN] ?? []
  let real: SlurmResult | undefined
  let realSkipped: string | undefined
  const packed: { label: string; r: SlurmResult }[] = []
  if (!o.realSlurm) realSkipped = 'not asked (smoke run, or --no-real-slurm)'
  else {
    try {
      execFileSync('sinfo', ['-h'], { stdio: 'ignore', timeout: 10_000 })
      o.progress('slurm (real cluster): 100 jobs')
      const results = path.join(ROOT, 'bench', 'results')
      real = await o.child<SlurmResult>('slurm.js', { part: 'slurm', kind: 'real', m: 100, polls: 0, pollMs: 0, dir: results } satisfies SlurmSpec, 300_000)
      packed.push({ label: 'trivial, chunkSize 1 (submitit)', r: real })
      // 5. packing (issue 11), side by side on the same cluster
      for (const [label, spec] of PACKED_RUNS) {
        o.progress(`slurm (real cluster): ${label}`)
        const r = await o.child<SlurmResult>(
          'slurm.js',
          { part: 'slurm', kind: 'real', polls: 0, pollMs: 0, dir: results, ...spec } satisfies SlurmSpec,
          900_000,
        )
        packed.push({ label, r })
      }
    } catch (e) {
      realSkipped =
        (e as Error).message.includes('sinfo') || (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no Slurm cluster here (sinfo failed)' : (e as Error).message
      if (!realSkipped.startsWith('no Slurm')) errors.push(realSkipped)
    }
  }
  o.progress('')

  const s = (rs: SlurmResult[], k: keyof SlurmResult) => stat(rs.map((x) => x[k] as number))
  const summary: Record<string, unknown> = { fake: {}, submit: {}, real, realSkipped, errors }
  console.log('\n3. Slurm polling, fake sacct printing one row per watched job (every job waited on; fixed 100 ms poll period for the CPU figure)')
  const rows: string[][] = []
  // one row per case: the jobs watched alone, then 10 beside many finished ones
  const cases: [string, SlurmResult[], (entry: object) => void][] = ms.map((m) => [
    m.toLocaleString('en'),
    fake[m] ?? [],
    (entry) => ((summary.fake as Record<number, unknown>)[m] = entry),
  ])
  cases.push([`10, beside ${settledN.toLocaleString('en')} finished`, besideSettled, (entry) => (summary.besideSettled = { settled: settledN, ...entry })])
  for (const [label, rs, keep] of cases) {
    if (!rs.length) continue
    const calls = s(rs, 'schedulerCallsPerPoll')
    const perMin = callsPerMinute(lib.nextDelay, calls.median)
    const entry = {
      callsPerPoll: calls,
      cpuPerPollMs: s(rs, 'cpuPerPollMs'),
      wallPerPollMs: s(rs, 'wallPerPollMs'),
      endToSeenMs: s(rs, 'endToSeenMs'),
      callsPerMinute: perMin,
    }
    keep(entry)
    rows.push([
      label,
      fmtNum(calls.median),
      `${perMin.firstMinute.toFixed(0)} / ${perMin.after10Min.toFixed(0)}`,
      fmtStat(entry.cpuPerPollMs, fmtMs),
      fmtStat(entry.wallPerPollMs, fmtMs),
      fmtStat(entry.endToSeenMs, fmtMs),
    ])
  }
  console.log(
    table(
      ['jobs watched', 'scheduler calls / poll', 'calls / min (1st min / after 10 min)', 'client CPU / poll', 'wall / poll', 'end → seen (100 ms cadence)'],
      rows,
    ),
  )
  console.log(
    `   at the default cadence a poll comes nextDelay(age) after the last: ${fmtMs(lib.nextDelay(0))} at first, ${fmtMs(lib.nextDelay(60_000))} after 1 min, ${fmtMs(lib.nextDelay(600_000))} after 10 min: the end → seen delay adds up to that.`,
  )
  if (real) {
    console.log(
      `   real cluster, 100 jobs: submit ${fmtMs(real.submitWallMs)} (CPU ${fmtMs(real.submitCpuMs)}), all results in ${fmtMs(real.totalMs!)}, ${real.polls} polls, ` +
        `${real.schedulerCallsPerPoll.toFixed(2)} scheduler calls / poll, client CPU ${fmtMs(real.cpuPerPollMs)} / poll, job end (result file) → seen: median ${fmtMs(real.endToSeenMs)}, p90 ${fmtMs(real.endToSeenP90Ms!)}`,
    )
  } else console.log(`   real cluster: skipped: ${realSkipped}`)
  if (packed.length > 1) printPacked(packed, o.targets, summary)

  console.log(`\n4. Slurm submission: client time of mapArray(${submitN.toLocaleString('en')}) with the fake sbatch (files + sbatch)`)
  const srows: string[][] = []
  for (const [k, label] of [
    ['oneSbatch', 'one sbatch (maxArraySize 100,000)'],
    ['clusterMax', 'cluster MaxArraySize (1001)'],
  ] as const) {
    const rs = submit[k]
    if (!rs?.length) continue
    const e = { wall: s(rs, 'submitWallMs'), cpu: s(rs, 'submitCpuMs'), sbatch: rs[0].sbatchCalls }
    ;(summary.submit as Record<string, unknown>)[k] = e
    srows.push([label, String(e.sbatch), fmtStat(e.wall, fmtMs), fmtStat(e.cpu, fmtMs)])
  }
  console.log(table(['case', 'sbatch calls', 'client wall', 'client CPU'], srows))
  for (const e of errors) console.log(`   error: ${e}`)

  const big = ms[ms.length - 1]
  const fb = summary.fake as Record<number, { callsPerPoll: Stat; cpuPerPollMs: Stat }>
  if (fb[big]) {
    const small = fb[ms[0]]
    o.targets.push({
      what: `watcher: scheduler calls per poll, ${ms[0]} vs ${big.toLocaleString('en')} jobs`,
      target: 'O(1)',
      measured: `${fmtNum(small.callsPerPoll.median)} vs ${fmtNum(fb[big].callsPerPoll.median)}`,
      met: fb[big].callsPerPoll.median <= small.callsPerPoll.median && fb[big].callsPerPoll.median <= 1,
    })
    o.targets.push({
      what: `watcher: client CPU per poll at ${big.toLocaleString('en')} jobs`,
      target: '< 20 ms',
      measured: fmtStat(fb[big].cpuPerPollMs, fmtMs),
      met: big >= 10_000 ? fb[big].cpuPerPollMs.median < 20 : null,
      note: big < 10_000 ? 'smoke size' : undefined,
    })
  }
  const beside = summary.besideSettled as { cpuPerPollMs: Stat } | undefined
  if (beside && fb[10]) {
    o.targets.push({
      what: `watcher: client CPU per poll, 10 jobs beside ${settledN.toLocaleString('en')} finished ones ÷ 10 jobs alone (finished jobs cost nothing)`,
      target: '≤ 1.5×',
      measured: `${fmtStat(beside.cpuPerPollMs, fmtMs)} vs ${fmtStat(fb[10].cpuPerPollMs, fmtMs)}`,
      met: beside.cpuPerPollMs.median <= 1.5 * fb[10].cpuPerPollMs.median,
    })
  }
  const sub = summary.submit as Record<string, { wall: Stat; cpu: Stat }>
  if (sub.oneSbatch) {
    o.targets.push({
      what: `Slurm mapArray of ${submitN.toLocaleString('en')}, client time (one sbatch)`,
      target: '< 2 s',
      measured: `${fmtStat(sub.oneSbatch.wall, fmtMs)} wall, ${fmtStat(sub.oneSbatch.cpu, fmtMs)} CPU`,
      met: sub.oneSbatch.wall.median < 2000,
    })
  }
  if (sub.clusterMax) {
    o.targets.push({
      what: `same, at the cluster's MaxArraySize (several sbatch)`,
      target: '< 2 s',
      measured: `${fmtStat(sub.clusterMax.wall, fmtMs)} wall`,
      met: sub.clusterMax.wall.median < 2000,
    })
  }
  return summary
}

/** The machine's CPU time so far (jiffies, every core): busy and total, from /proc/stat; undefined elsewhere. */
function procStat(): { busy: number; total: number } | undefined {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0)
    return { busy: total - f[3] - f[4], total } // minus idle and iowait
  } catch {
    return undefined
  }
}

/** Part 5's runs on the real cluster: trivial and 100 ms CPU tasks, one element per Slurm task or packed. */
const PACKED_RUNS: [string, Partial<SlurmSpec> & { m: number }][] = [
  ['trivial, chunkSize 500', { m: 2000, chunkSize: 500, cpusPerTask: 2 }],
  ["trivial, chunkSize 'auto'", { m: 2000, chunkSize: 'auto', cpusPerTask: 2 }],
  ['100 ms CPU, chunkSize 1 (submitit)', { m: 500, taskMs: 100 }],
  ["100 ms CPU, chunkSize 'auto'", { m: 500, taskMs: 100, chunkSize: 'auto', cpusPerTask: 2 }],
]

/** 5. What packing gives: jobs per second, and for CPU tasks the share of the machine's real cores kept busy. */
function printPacked(runs: { label: string; r: SlurmResult }[], targets: Target[], summary: Record<string, unknown>): void {
  const cores = os.availableParallelism()
  const rows = runs.map(({ label, r }) => {
    const wallS = r.totalMs! / 1000
    const jobsPerS = r.spec.m / wallS
    return { label, m: r.spec.m, wallS, jobsPerS, busyShare: r.spec.taskMs ? r.machineBusy : undefined, calls: r.schedulerCallsPerPoll }
  })
  summary.packed = rows
  console.log(`\n5. Packing on the real cluster (chunkSize, side by side; CPU share: the machine's ${cores} real cores busy during the run, /proc/stat)`)
  console.log(
    table(
      ['run', 'elements', 'wall', 'jobs/s', 'CPU share', 'scheduler calls / poll'],
      rows.map((x) => [
        x.label,
        fmtNum(x.m),
        fmtMs(x.wallS * 1000),
        x.jobsPerS.toFixed(1),
        x.busyShare === undefined ? '' : `${(100 * x.busyShare).toFixed(0)} %`,
        x.calls.toFixed(2),
      ]),
    ),
  )
  const one = rows.find((x) => x.label.startsWith('trivial, chunkSize 1'))
  const best = Math.max(...rows.filter((x) => x.label.startsWith('trivial, chunkSize') && x !== one).map((x) => x.jobsPerS))
  if (one) {
    const ratio = best / one.jobsPerS
    targets.push({ what: 'trivial tasks on Slurm, packed vs one per Slurm task', target: '≥ 50×', measured: `${ratio.toFixed(0)}×`, met: ratio >= 50 })
  }
  const cpu = rows.find((x) => x.label === "100 ms CPU, chunkSize 'auto'")
  if (cpu?.busyShare !== undefined) {
    targets.push({
      what: '100 ms CPU tasks packed: real cores kept busy',
      target: '≥ 80 %',
      measured: `${(100 * cpu.busyShare).toFixed(0)} %`,
      met: cpu.busyShare >= 0.8,
    })
  }
}

// As a child process: node dist/bench/slurm.js '<SlurmSpec as JSON>' → one line "BENCH_RESULT {...}".
benchChild(import.meta.url, measureSlurm)
