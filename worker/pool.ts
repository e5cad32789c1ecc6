// The module piscina loads in each pool thread: one call runs one chunk of an array.
import { runTasks, type RunReply, type RunRequest } from './run.js'

export default function run(req: RunRequest): Promise<RunReply> {
  return runTasks(req)
}
