#!/usr/bin/env node
// The worker entrypoint as a command, the way a batch script runs it on a node:
//   node dist/worker/main.js <folder template> [--array-id A] [--index a] [--task t]
// Ids not given come from Slurm's variables (SLURM_ARRAY_JOB_ID, SLURM_ARRAY_TASK_ID, SLURM_JOB_ID,
// SLURM_PROCID, SLURM_LOCALID, SLURM_NODEID) or our own SUBMITIT_* ones. Exits 1 when a task failed.
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { submittedPath } from '../lib/core/paths.js'
import { runTasks, waitForFile } from './run.js'

export interface CliIds {
  arrayId: string
  index: number | null
  task: number
  node?: number
  localRank?: number
}

/** Reads the job's ids from the options, else from the environment. */
export function idsFrom(opts: { 'array-id'?: string; index?: string; task?: string }, env: NodeJS.ProcessEnv): CliIds {
  const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v))
  const arrayId = opts['array-id'] ?? env.SUBMITIT_ARRAY_ID ?? env.SLURM_ARRAY_JOB_ID ?? env.SLURM_JOB_ID
  if (!arrayId) throw new Error('no job id: pass --array-id, or run inside a Slurm job')
  const index = num(opts.index ?? env.SUBMITIT_INDEX ?? (env.SLURM_ARRAY_JOB_ID ? env.SLURM_ARRAY_TASK_ID : undefined))
  return {
    arrayId,
    index: index ?? null,
    task: num(opts.task ?? env.SUBMITIT_TASK ?? env.SLURM_PROCID) ?? 0,
    node: num(env.SLURM_NODEID),
    localRank: num(env.SLURM_LOCALID),
  }
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { 'array-id': { type: 'string' }, index: { type: 'string' }, task: { type: 'string' } },
    allowPositionals: true,
  })
  if (positionals.length !== 1) throw new Error('usage: main.js <folder template> [--array-id A] [--index a] [--task t]')
  const ids = idsFrom(values, env)
  const submitted = submittedPath(positionals[0], ids.arrayId, ids.index !== null)
  // signalDelayS sends SIGUSR2 before the time limit; its default action would kill the worker
  process.on('SIGUSR2', () => {
    console.error(`submitit-ts worker: SIGUSR2 received (time limit or preemption near) at ${new Date().toISOString()}; the task goes on`)
  })
  await waitForFile(submitted, 120_000)
  const reply = await runTasks({
    submitted, first: ids.index ?? 0, count: 1, task: ids.task, capture: 'none', guard: true,
    node: ids.node, localRank: ids.localRank,
  })
  return reply.failures > 0 ? 1 : 0
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2), process.env).then(
    (code) => { process.exitCode = code },
    (e: Error) => { console.error(`submitit-ts worker: ${e.stack ?? e.message}`); process.exitCode = 2 },
  )
}
