// isolation: 'process': a job runs in a process of its own (worker/process.ts), forked per job, as
// a node would run it. The executor marks the element running itself (no memory is shared with a
// process), answers warnings over IPC, and stops the job by killing its process.
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { CHECKPOINTED, CURRENT, type RunReply, type RunRequest } from '../core/protocol.js'
import type { Chunk } from './array.js'
import type { FromJob, ToJob } from '../../worker/process.js'

const PROCESS_FILE = fileURLToPath(new URL('../../worker/process.js', import.meta.url))
/** after SIGTERM, a job's process has this long to go before SIGKILL */
const KILL_GRACE_MS = 2_000

let exitHook = false

/** Runs the chunk (one element) in a new process; rejects when the process ends without a reply. */
export function runInProcess(chunk: Chunk, req: RunRequest, memGb: number | undefined, children: Set<ChildProcess>): Promise<RunReply> {
  const { control, startedAt } = chunk.memory
  const { memory: _shared, ...request } = req
  // a fresh node: no inherited loader flags (tsx is registered on demand for .ts tasks)
  const execArgv = memGb === undefined ? [] : [`--max-old-space-size=${Math.max(16, Math.floor(memGb * 1024))}`]
  const child = fork(PROCESS_FILE, [], { execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  children.add(child)
  if (!exitHook) {
    exitHook = true
    // nothing left running: a job's process dies with its executor's (kill -9 too: see worker/process.ts)
    process.once('exit', () => {
      for (const c of children) c.kill('SIGKILL')
    })
  }
  startedAt[0] = Date.now() // until the process says it started the task (see 'started')
  Atomics.store(control, CURRENT, chunk.first)
  chunk.warn = (index) => child.send({ warn: index } satisfies ToJob)
  chunk.abort!.signal.addEventListener('abort', () => {
    child.kill('SIGTERM')
    setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS).unref()
  })
  return new Promise<RunReply>((resolve, reject) => {
    let reply: RunReply | undefined
    child.on('message', (message: FromJob) => {
      if ('started' in message) startedAt[0] = Date.now()
      else if ('reply' in message) reply = message.reply
      else Atomics.store(control, CHECKPOINTED, message.checkpointed)
    })
    child.on('error', (error) => {
      children.delete(child)
      reject(error)
    })
    child.on('exit', (code, signal) => {
      children.delete(child)
      if (reply) {
        Atomics.store(control, CURRENT, -1)
        resolve(reply)
      } else {
        reject(new Error(`its process ended ${signal ? `by signal ${signal}` : `with exit code ${code}`} before it answered`))
      }
    })
    child.send({ run: request } satisfies ToJob)
  })
}
