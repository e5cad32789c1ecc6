// cleanEnv: submit new jobs from inside a job without the job's own Slurm and submitit variables
// leaking into them (sbatch reads SLURM_* and SBATCH_* from its environment; a nested job would
// inherit the parent's partition, gres or ranks, as submitit's clean_env warns).

/** Prefixes of the variables removed, and the names torch.distributed-style launchers set. */
const PREFIXES = ['SLURM_', 'SLURMD_', 'SRUN_', 'SBATCH_', 'SUBMITIT_']
const DISTRIBUTED = ['MASTER_ADDR', 'MASTER_PORT', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE']

export interface CleanEnvOptions {
  /** more variables to hide, e.g. TRITON_CACHE_DIR */
  extraNames?: readonly string[]
}

/**
 * Runs `fn` without the SLURM_*, SLURMD_*, SRUN_*, SBATCH_*, SUBMITIT_* variables (nor MASTER_ADDR,
 * MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, nor `extraNames`), and puts them back
 * afterwards: when `fn` returns, throws, or, for a promise, settles. process.env is the process's:
 * other code running meanwhile sees it cleaned too (the LocalExecutor's threads have copies of their
 * own, made when its pool starts; a job's own process, isolation: 'process', gets the environment
 * when it starts).
 */
export function cleanEnv<T>(fn: () => T, options: CleanEnvOptions = {}): T {
  const extra = new Set(options.extraNames ?? [])
  const saved: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && (PREFIXES.some((p) => k.startsWith(p)) || DISTRIBUTED.includes(k) || extra.has(k))) {
      saved[k] = v
      delete process.env[k]
    }
  }
  const restore = () => {
    Object.assign(process.env, saved)
  }
  let value: T
  try {
    value = fn()
  } catch (e) {
    restore()
    throw e
  }
  if (value instanceof Promise) return value.finally(restore) as T
  restore()
  return value
}
