// The module piscina loads in each pool thread: one call runs one chunk of an array.
import type { RunReply, RunRequest } from '../lib/core/protocol.js'
import { runTasks } from './run.js'

export default function run(req: RunRequest): Promise<RunReply> {
  return runTasks(req)
}
