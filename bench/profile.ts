// Profiles the LocalExecutor hot path: one 100k trivial-task mapArray in a child run with --cpu-prof
// (a profile per thread: the main thread and each pool thread), then prints where the self time goes,
// by function and by file, for each thread. With --latency N: N sequential submit → result round trips
// (one job at a time, as a notebook loop) instead of the array.
//   npm run build && node dist/bench/profile.js [--n 100000] [--latency 3000] [--dir /dev/shm] [--top 25]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { child } from './run.js'
import type { LocalResult, LocalSpec } from './local.js'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}
interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

function short(url: string): string {
  if (!url) return '(native/vm)'
  return url
    .replace(`file://${ROOT}/`, '')
    .replace(/^file:\/\/.*node_modules\//, 'node_modules/')
    .replace(/^node:/, 'node:')
}

/** Self time per node, from the samples and their time deltas (µs). */
export function summarize(p: CpuProfile, top: number): string {
  const self = new Map<number, number>()
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0))
  const total = p.endTime - p.startTime || 1
  const byFn = new Map<string, number>()
  const byFile = new Map<string, number>()
  for (const n of p.nodes) {
    const t = self.get(n.id) ?? 0
    if (!t) continue
    const f = n.callFrame
    const key = `${f.functionName || '(anonymous)'}  ${short(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`
    byFn.set(key, (byFn.get(key) ?? 0) + t)
    const file = f.url ? short(f.url) : f.functionName.startsWith('(') ? f.functionName : '(native/vm)'
    byFile.set(file, (byFile.get(file) ?? 0) + t)
  }
  const fmt = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, t]) => `  ${(t / 1000).toFixed(1).padStart(8)} ms ${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`)
      .join('\n')
  return `  total ${(total / 1000).toFixed(0)} ms\n by function (self time):\n${fmt(byFn)}\n by file:\n${fmt(byFile)}`
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { n: { type: 'string' }, top: { type: 'string' }, system: { type: 'string' }, latency: { type: 'string' }, dir: { type: 'string' } },
  })
  const latency = Number(values.latency ?? 0)
  const n = latency > 0 ? 1 : Number(values.n ?? 100_000)
  const top = Number(values.top ?? 25)
  const dir = path.join(ROOT, 'bench', 'results', `profile-${new Date().toISOString().replace(/[:.]/g, '-')}`)
  fs.mkdirSync(dir, { recursive: true })
  const spec: LocalSpec = {
    part: 'local',
    system: (values.system ?? 'local') as LocalSpec['system'],
    workload: 'trivial',
    taskMs: 0,
    n,
    threads: os.availableParallelism(),
    inFlight: 64,
    warmup: latency > 0 ? 0 : 1000,
    untimedReps: 0,
    reps: 1,
    latencySamples: latency,
    latencyFirst: 0,
    latencyWarmup: latency,
    dir: values.dir ?? os.tmpdir(),
    keepFiles: false,
  }
  const r = await child<LocalResult>('local.js', spec, 600_000, ['--cpu-prof', `--cpu-prof-dir=${dir}`])
  if (latency > 0)
    console.log(
      `${spec.system}, ${latency} sequential submit → result: median ${(1000 * r.latencyMedianMs!).toFixed(0)} µs, p90 ${(1000 * r.latencyP90Ms!).toFixed(0)} µs under the profiler`,
    )
  else
    console.log(
      `${spec.system}, ${n} trivial tasks: ${r.jobsPerSec.toFixed(0)} jobs/s under the profiler (mapArray returned after ${r.submitMs?.toFixed(1)} ms)`,
    )
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort()
  for (const f of files) {
    const p = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as CpuProfile
    console.log(
      `\n${f}${p.nodes.some((x) => x.callFrame.url.includes('worker/run.js') || x.callFrame.url.includes('raw-worker')) ? ' (a pool thread)' : ' (main thread)'}`,
    )
    console.log(summarize(p, top))
  }
  console.log(`\nprofiles in ${path.relative(process.cwd(), dir)} (open them in Chrome DevTools → Performance)`)
}

main().catch((e: Error) => {
  console.error(e.stack ?? e.message)
  process.exitCode = 1
})
