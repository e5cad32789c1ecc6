// The fake Slurm commands (fixtures/fake-slurm): a state folder per test, what they were called
// with, what a test makes them answer, and the worker run as a batch script runs it on a node.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { linesOf } from './files.js'
import { FAKE_SLURM_BIN, WORKER_MAIN } from './paths.js'

export interface FakeSlurm {
  /** $FAKE_SLURM_DIR: the fake's state (see fixtures/fake-slurm/_common.sh) */
  state: string
  /** this process's environment with FAKE_SLURM_DIR */
  env: NodeJS.ProcessEnv
  /** the `commands` option of a SlurmExecutor or a SlurmWatcher, and of the command wrappers */
  commands: { binDir: string; env: NodeJS.ProcessEnv }
  /** the calls so far, one line each (the command and its quoted arguments); only `cmd`'s when given */
  calls(cmd?: string): string[]
  /** the arguments sbatch got for job `id`, one per line */
  sbatchArgs(id: number | string): string[]
  /** the batch script sbatch got for job `id` */
  script(id: number | string): string
  /** the ids given to scancel */
  cancelled(): string[]
  /** writes a state file: what sacct/squeue print (sacct.txt, squeue.txt), a failure (sbatch.fail)... */
  write(name: string, text: string): void
  /** the environment a node gives the worker of job `arrayId` (element `index`; null: not an array) */
  nodeEnv(arrayId: string, index: number | null, extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv
  /** runs the worker on `folder` as the batch script of job `arrayId` runs it on a node */
  runOnNode(folder: string, arrayId: string, index: number | null, extra?: NodeJS.ProcessEnv): SpawnSyncReturns<string>
}

/** A fresh fake cluster with its state in `dir`/`name` (job ids start at 1000: a new name, a new cluster). */
export function fakeSlurm(dir: string, name = 'slurm-state'): FakeSlurm {
  const state = path.join(dir, name)
  fs.mkdirSync(state, { recursive: true })
  const env = { ...process.env, FAKE_SLURM_DIR: state }
  const script = (id: number | string) => fs.readFileSync(path.join(state, 'jobs', `${id}.sh`), 'utf8')
  const nodeEnv = (arrayId: string, index: number | null, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => {
    // the batch script exports its submission's nonce: the worker checks the submission file is that one
    const nonce = /^export SUBMITIT_NONCE=(\S+)$/m.exec(script(arrayId))?.[1]
    if (!nonce) throw new Error(`the batch script of job ${arrayId} does not export SUBMITIT_NONCE`)
    const ids = index === null ? { SLURM_JOB_ID: arrayId } : { SLURM_ARRAY_JOB_ID: arrayId, SLURM_ARRAY_TASK_ID: String(index) }
    return { ...process.env, ...ids, SLURM_PROCID: '0', SUBMITIT_NONCE: nonce, ...extra }
  }
  return {
    state,
    env,
    commands: { binDir: FAKE_SLURM_BIN, env },
    calls: (cmd) => {
      const lines = linesOf(path.join(state, 'calls.log'))
      return cmd ? lines.filter((l) => l.startsWith(`${cmd} `)) : lines
    },
    sbatchArgs: (id) => linesOf(path.join(state, 'jobs', `${id}.args`)),
    script,
    cancelled: () => linesOf(path.join(state, 'cancelled')),
    write: (name, text) => fs.writeFileSync(path.join(state, name), text),
    nodeEnv,
    runOnNode: (folder, arrayId, index, extra) =>
      spawnSync(process.execPath, [WORKER_MAIN, folder], { env: nodeEnv(arrayId, index, extra), encoding: 'utf8', timeout: 60_000 }),
  }
}
