// Whether a real Slurm cluster answers here. Tests against it skip on a laptop without one, and
// fail in CI (CI=true), where .ci/run starts it: they must never skip silently there.
import { execFileSync } from 'node:child_process'

export function clusterSkipReason(): string | false {
  try {
    const out = execFileSync('sinfo', ['-h', '-o', '%T'], { encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe'] })
    if (/idle|mixed|allocated|completing/.test(out)) return false
    return `the Slurm node is not usable (sinfo: ${out.trim() || 'no nodes'})`
  } catch (e) {
    return `no Slurm cluster answers here (${(e as Error).message.split('\n')[0]}); start one with \`npm run slurm:start\``
  }
}

/** Options for a tap test that needs the cluster. */
export function needsCluster(t: { fail: (msg: string) => void }): { skip?: string } {
  const reason = clusterSkipReason()
  if (!reason) return {}
  if (process.env.CI === 'true' || process.env.CI === '1') {
    t.fail(`CI=true but ${reason}: the Slurm integration tests must run in CI (.ci/run starts the cluster)`)
    return { skip: 'failed above' }
  }
  return { skip: reason }
}
