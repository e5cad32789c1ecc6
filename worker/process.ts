// The entry of a job's own process (LocalExecutor with isolation: 'process'): one job per process,
// which gets its own globals, process.env, working directory and memory limit, as on a node. The
// executor sends the RunRequest over IPC and gets the reply back; a warning that the job is past its
// time arrives as a message, and is handed to the task's checkpoint as in a pool thread (see
// watchWarning in run.ts). When the executor's process goes (even kill -9), the IPC channel closes
// and this process ends too: nothing is left running.
import { chunkMemory, CHECKPOINTED, WARNED, type RunReply, type RunRequest } from '../lib/core/protocol.js'
import { abandonRun, runTasks } from './run.js'

export type ToJob = { run: Omit<RunRequest, 'memory'> } | { warn: number }
export type FromJob = { started: true } | { reply: RunReply } | { checkpointed: number }

const memory = chunkMemory(1)

process.on('message', (message: ToJob) => {
  if ('warn' in message) {
    Atomics.store(memory.control, WARNED, message.warn)
    const poll = setInterval(() => {
      const done = Atomics.load(memory.control, CHECKPOINTED)
      if (done === -1) return // not answered yet (a failure is -2 - index)
      clearInterval(poll)
      process.send!({ checkpointed: done } satisfies FromJob)
    }, 50)
    return
  }
  // the job's time counts from here, not from the process's start
  process.send!({ started: true } satisfies FromJob)
  runTasks({ ...message.run, memory, guard: true }).then(
    (reply) => process.send!({ reply } satisfies FromJob, () => process.exit(0)),
    (error: Error) => {
      process.stderr.write(`submitit-ts: the job's process could not run it: ${error.stack ?? error}\n`)
      process.exit(70)
    },
  )
})
// the executor is gone: so is this job (and no result claims the task exited by itself)
process.on('disconnect', () => {
  abandonRun()
  process.exit(75)
})
