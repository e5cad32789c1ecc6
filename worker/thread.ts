// The thread that runs a job's task on a node (see worker/main.ts): the process's main thread stays
// free to receive Slurm's signals while the task is busy.
import { parentPort, workerData } from 'node:worker_threads'
import type { RunReply, RunRequest } from '../lib/core/protocol.js'
import { runTasks } from './run.js'

export type FromThread = { reply: RunReply } | { error: string }

runTasks(workerData as RunRequest).then(
  (reply) => parentPort!.postMessage({ reply } satisfies FromThread),
  (e: Error) => parentPort!.postMessage({ error: e.stack ?? String(e) } satisfies FromThread),
)
