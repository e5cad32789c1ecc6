// The plain worker file of the raw-pool baselines: piscina and tinypool load it in their threads and
// call its named exports with one argument, with no files and no library around the call. The
// functions are the very ones the LocalExecutor runs (bench/tasks.ts).
import { busy as busyTask, trivial as trivialTask } from './tasks.js'

export function trivial(x: number): number {
  return trivialTask(x)
}

export function busy(ms: number): number {
  return busyTask(ms)
}

export default trivial
