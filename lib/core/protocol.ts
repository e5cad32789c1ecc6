// The executor ↔ worker protocol, imported by both sides: what a pool thread (or the Debug executor,
// or the CLI on a node) is asked to run, what it answers, and the memory it shares with the
// LocalExecutor while it runs a chunk: which element runs now, each element's flag, and each
// finished element's outcome, so that nothing that ran is lost (or run again) when the thread is
// terminated in the middle of a chunk (timeout, cancel, crash).
import v8 from 'node:v8'
import { FINAL_STATES, type Outcome } from './format.js'
import type { CaptureMode } from '../../worker/capture.js'

export interface RunRequest {
  /** path of the <A>_submitted.v8 file */
  submitted: string
  /** its bytes, when the executor sends them along (small submissions): the file need not be read back */
  submission?: Uint8Array
  /** the nonce the submission must carry (a file of another submission is not run) */
  nonce?: string
  /** run elements first .. first+count-1 */
  first: number
  count: number
  /** the task rank */
  task: number
  /** how to capture what tasks print: into their log files, also to the console, or not at all */
  capture: CaptureMode
  /** shared with the executor: see ChunkMemory */
  memory?: ChunkMemory
  /** values the executor passes for multi-node jobs (Slurm sets them itself) */
  node?: number
  localRank?: number
  /** the arguments to run with instead of the submission's (a checkpointed job's rerun) */
  args?: { args: unknown[]; marked: boolean }
  /** requeues so far (Slurm's SLURM_RESTART_COUNT) */
  restarts?: number
  /** run the (single) element with the arguments of its checkpoint file: a requeued job */
  resume?: boolean
  /**
   * The chunk's result may be held back (see holdResult): the worker claims it before writing it.
   * Set on a node, where a requeue decided while the task ends must not leave a result behind.
   */
  gated?: boolean
  /** write the result only if none is there yet (a packed element: its cancel may have written one) */
  exclusive?: boolean
  /**
   * This thread or process runs only jobs (a pool thread, the CLI): an uncaught error fails the job
   * it came from, and an exit saves the outcomes so far before the thread goes.
   */
  guard?: boolean
}

export interface RunReply {
  /** the result file written */
  file: string
  /** its bytes, so the executor need not read the file back */
  bytes: Uint8Array
  /** how many elements failed, timed out or were cancelled */
  failures: number
  /** milliseconds spent running the elements (files excluded): the executor sizes chunks with it */
  runMs: number
}

/** Layout of `control`: */
export const CURRENT = 0 // index of the element running now, -1 between elements
export const FLUSHED = 1 // how many outcomes (from the chunk's first) are in partial result files
export const WARNED = 2 // set by the executor: this element is past its time, checkpoint it (-1: none)
export const CHECKPOINTED = 3 // set by the worker: this element's checkpoint is saved, or failed (see checkpointAnswer; -1: none)
export const GATE = 4 // who writes the chunk's result: see claimResult/holdResult (a node's requeue)
export const OWNER = 5 // who runs the chunk: see startChunk/takeBackChunk
export const SUBMISSION = 6 // the submission file: written (1, the default), being written (0), could not be (-1); see awaitSubmission
export const FLAGS = 7 // control[FLAGS + k]: one of the flags below, for element first+k
export const PENDING_FLAG = 0
export const CANCEL_FLAG = 1 // set by the executor: skip it
export const DONE_FLAG = 2 // set by the worker: it has run, its outcome is in the arena
// control[FLAGS + count + k]: where element k's outcome ends in the arena (0: not there)

/** What a chunk's thread shares with the executor. */
export interface ChunkMemory {
  control: Int32Array
  /** [0]: Date.now() when the current element started */
  startedAt: Float64Array
  /** the outcomes of finished elements since the last flush, one after the other */
  arena: Uint8Array
}

export function chunkMemory(count: number): ChunkMemory {
  // one shared buffer for the three views: each SharedArrayBuffer costs a pool message dearly
  const controlBytes = 8 * Math.ceil((4 * (FLAGS + 2 * count)) / 8)
  // a chunk of one element needs no arena (its result file comes right after it); past what the
  // arena holds, the worker writes the outcomes to a partial result file
  const arenaBytes = count === 1 ? 0 : Math.min(ARENA_MAX, ARENA_MIN + 64 * count)
  const buffer = new SharedArrayBuffer(controlBytes + 8 + arenaBytes)
  const control = new Int32Array(buffer, 0, FLAGS + 2 * count)
  control[CURRENT] = -1
  control[WARNED] = -1
  control[CHECKPOINTED] = -1
  control[SUBMISSION] = SUBMISSION_WRITTEN
  return {
    control,
    startedAt: new Float64Array(buffer, controlBytes, 1),
    arena: new Uint8Array(buffer, controlBytes + 8, arenaBytes),
  }
}

/**
 * The worker's answer to a warning of element `index`: its checkpoint saved (CHECKPOINTED holds
 * `index`), or failed (it threw, or returned no arguments: `-2 - index`), so that whoever waits for
 * it stops waiting at once.
 */
export function answerCheckpoint(control: Int32Array, index: number, saved: boolean): void {
  Atomics.store(control, CHECKPOINTED, saved ? index : -2 - index)
}

/** What the worker answered for element `index`: 'saved', 'failed', or undefined (not yet). */
export function checkpointAnswer(control: Int32Array, index: number): 'saved' | 'failed' | undefined {
  const v = Atomics.load(control, CHECKPOINTED)
  return v === index ? 'saved' : v === -2 - index ? 'failed' : undefined
}

export const SUBMISSION_WRITTEN = 1
export const SUBMISSION_PENDING = 0
export const SUBMISSION_FAILED = -1

/**
 * The LocalExecutor sends a small submission's first chunks with its bytes before it writes its
 * file, so that their thread wakes up and decodes it meanwhile (a thread's wake-up and a file write
 * are the two largest costs of a single job). No task runs before the file is there: the worker
 * waits here, and runs nothing when the executor says the file could not be written.
 */
export function awaitSubmission(control: Int32Array): boolean {
  while (Atomics.load(control, SUBMISSION) === SUBMISSION_PENDING) Atomics.wait(control, SUBMISSION, SUBMISSION_PENDING)
  return Atomics.load(control, SUBMISSION) === SUBMISSION_WRITTEN
}

/** The executor: the submission file is written (or could not be); a waiting worker goes on. */
export function settleSubmission(control: Int32Array, written: boolean): void {
  Atomics.store(control, SUBMISSION, written ? SUBMISSION_WRITTEN : SUBMISSION_FAILED)
  Atomics.notify(control, SUBMISSION)
}

// OWNER values: not started; taken back by the executor (it never runs); ended (1 + threadId: running)
const OWNER_NONE = 0
const OWNER_TAKEN_BACK = -1
const OWNER_ENDED = -2

/**
 * The worker, before it runs anything of the chunk: false when the executor took it back (it was
 * stopped before it started: nothing of it may run).
 */
export function startChunk(control: Int32Array, threadId: number): boolean {
  return Atomics.compareExchange(control, OWNER, OWNER_NONE, 1 + threadId) === OWNER_NONE
}

/** The worker is done with the chunk (it replied or threw): it writes nothing more for it. */
export function endChunk(control: Int32Array): void {
  Atomics.store(control, OWNER, OWNER_ENDED)
}

/**
 * The executor, once the chunk's pool call has failed (stopped, thread died): the id of the thread
 * still in the chunk, which may go on writing its memory and files until it has exited; undefined
 * when nothing runs it (it ended, or never started and now never will).
 */
export function takeBackChunk(control: Int32Array): number | undefined {
  const was = Atomics.compareExchange(control, OWNER, OWNER_NONE, OWNER_TAKEN_BACK)
  return was > 0 ? was - 1 : undefined
}

// GATE values: nobody yet; the worker is writing the result; the result is held back (not written)
const GATE_OPEN = 0
const GATE_WRITING = 1
const GATE_HELD = 2

/**
 * The worker, before it writes the chunk's result: waits while the result is held back. Returns
 * when it may write (the holder released it); a holder that requeues the job ends the process instead.
 */
export function claimResult(control: Int32Array): void {
  while (Atomics.compareExchange(control, GATE, GATE_OPEN, GATE_WRITING) === GATE_HELD) Atomics.wait(control, GATE, GATE_HELD)
}

/**
 * The side that would requeue the job (or end it TIMEOUT): true when the worker's result is now
 * held back, false when the worker is already writing it (the task ended first: keep its result).
 */
export function holdResult(control: Int32Array): boolean {
  const was = Atomics.compareExchange(control, GATE, GATE_OPEN, GATE_HELD)
  return was === GATE_OPEN || was === GATE_HELD
}

/** The requeue failed: the worker may write its result after all. */
export function releaseResult(control: Int32Array): void {
  if (Atomics.compareExchange(control, GATE, GATE_HELD, GATE_OPEN) === GATE_HELD) Atomics.notify(control, GATE)
}

const END = (count: number, k: number) => FLAGS + count + k
// allocated (and zeroed) per chunk: small for small chunks, which are the frequent ones
const ARENA_MIN = 64 << 10
const ARENA_MAX = 1 << 20

// An arena entry: state (index in FINAL_STATES), marked (0/1), tag, then the value
const UNDEFINED = 0,
  NULL = 1,
  TRUE = 2,
  FALSE = 3,
  NUMBER = 4,
  STRING = 5,
  V8 = 6
const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()

/**
 * Stores element k's encoded outcome after element k-1's, or at the start when k is the first
 * since a flush. Returns false when it does not fit (the caller flushes, then stores again). Throws
 * what v8 throws for a value it cannot send. `serialized`: the value's v8 bytes, when the caller has them.
 */
export function storeOutcome(memory: ChunkMemory, count: number, k: number, outcome: Outcome, marked: boolean, serialized?: Uint8Array): boolean {
  const { control, arena } = memory
  const start = k === Atomics.load(control, FLUSHED) ? 0 : control[END(count, k - 1)]
  const value = outcome.state === 'COMPLETED' ? outcome.value : outcome.error
  let tag: number
  let end = start + 3
  let bytes: Uint8Array | undefined
  if (value === undefined) tag = UNDEFINED
  else if (value === null) tag = NULL
  else if (value === true) tag = TRUE
  else if (value === false) tag = FALSE
  else if (typeof value === 'number') {
    tag = NUMBER
    end += 8
  } else if (typeof value === 'string' && end + 3 * value.length <= arena.length) {
    tag = STRING
    end += utf8.encodeInto(value, arena.subarray(end)).written
  } else {
    tag = V8
    bytes = serialized ?? v8.serialize(value)
    end += bytes.length
  }
  if (end > arena.length) return false
  arena[start] = FINAL_STATES.indexOf(outcome.state)
  arena[start + 1] = marked ? 1 : 0
  arena[start + 2] = tag
  if (tag === NUMBER) new DataView(arena.buffer, arena.byteOffset + start + 3, 8).setFloat64(0, value as number)
  else if (bytes) arena.set(bytes, start + 3)
  // the end is published before the flag: whoever sees DONE_FLAG sees the bytes
  Atomics.store(control, END(count, k), end)
  return true
}

/** The outcomes the arena holds, from the last flush on: [outcome, marked] by element. */
export function storedOutcomes(memory: ChunkMemory, count: number): { first: number; outcomes: Outcome[]; marked: boolean } {
  const { control, arena } = memory
  const flushed = Atomics.load(control, FLUSHED)
  const outcomes: Outcome[] = []
  let marked = false
  for (let k = flushed, start = 0; k < count; k++) {
    const end = Atomics.load(control, END(count, k))
    if (end === 0) break
    const state = FINAL_STATES[arena[start]]
    marked ||= arena[start + 1] === 1
    let value: unknown
    switch (arena[start + 2]) {
      case UNDEFINED:
        value = undefined
        break
      case NULL:
        value = null
        break
      case TRUE:
        value = true
        break
      case FALSE:
        value = false
        break
      case NUMBER:
        value = new DataView(arena.buffer, arena.byteOffset + start + 3, 8).getFloat64(0)
        break
      // TextDecoder cannot read shared memory: copy the bytes out first
      case STRING:
        value = fromUtf8.decode(arena.slice(start + 3, end))
        break
      default:
        value = v8.deserialize(arena.slice(start + 3, end))
    }
    outcomes.push(state === 'COMPLETED' ? { state, value } : { state, error: value })
    start = end
  }
  return { first: flushed, outcomes, marked }
}

/**
 * Outcomes from..to-1 are in a partial result file (see flushedSegments): the arena starts again
 * after them. Their arena slots are free, so the slot of `to - 1` records where the segment began.
 */
export function markFlushed(memory: ChunkMemory, count: number, from: number, to: number): void {
  Atomics.store(memory.control, END(count, to - 1), -(from + 1))
  Atomics.store(memory.control, FLUSHED, to)
}

/** The partial result files of a chunk, as [from, to) ranges of its elements, first to last. */
export function flushedSegments(memory: ChunkMemory, count: number): [number, number][] {
  const segments: [number, number][] = []
  for (let to = Atomics.load(memory.control, FLUSHED); to > 0; ) {
    const from = -Atomics.load(memory.control, END(count, to - 1)) - 1
    segments.unshift([from, to])
    to = from
  }
  return segments
}
