// Parsers for sacct, squeue and scontrol output, written against Slurm 22.05's real
// output (see test/slurm-parse.test.ts). They never throw on odd lines: a poller
// must survive whatever the scheduler prints.
import { cachedGet } from '../core/cache.js'
import { JOB_STATES, type JobState } from '../core/job.js'

// One list of states and one notion of "final" for the whole library (PREEMPTED is not final).
export { isFinalState, type JobState } from '../core/job.js'

const KNOWN: ReadonlySet<string> = new Set(JOB_STATES)

/** Rarer Slurm states, folded into the nearest one the library reasons about. */
const ALIASES: Record<string, JobState> = {
  CONFIGURING: 'RUNNING',
  RESIZING: 'RUNNING',
  SIGNALING: 'RUNNING',
  STAGE_OUT: 'COMPLETING',
  STOPPED: 'SUSPENDED',
  REQUEUE_HOLD: 'REQUEUED',
  REQUEUE_FED: 'REQUEUED',
  RESV_DEL_HOLD: 'PENDING',
  SPECIAL_EXIT: 'FAILED',
  REVOKED: 'CANCELLED',
}

/** 'CANCELLED by 0' → CANCELLED, 'COMPLETED+' → COMPLETED, anything unknown → UNKNOWN. */
export function normalizeState(raw: string): JobState {
  const word = raw.trim().split(/\s+/)[0]?.replace(/\+$/, '').toUpperCase() ?? ''
  if (KNOWN.has(word)) return word as JobState
  return ALIASES[word] ?? 'UNKNOWN'
}

export interface JobEntry {
  /** '12' for a plain job, '12_3' for an array task. */
  jobId: string
  /** '12' for both. */
  baseId: string
  taskId?: number
  state: JobState
  /** The scheduler's text, e.g. 'CANCELLED by 0'. */
  rawState: string
  exitCode?: number
  /** The signal part of sacct's ExitCode 'code:signal'. */
  signal?: number
  /** squeue's %r, or sacct's Reason: why a pending job waits ('Resources', 'DependencyNeverSatisfied'...). */
  reason?: string
  /** Came from a compact array row (tasks that never started exist only there). */
  compact: boolean
}

/** Ranges larger than this are not expanded (MaxArraySize is at most 4,000,001). */
const MAX_EXPAND = 4_000_001

/**
 * '2-7,12-17,22%56' → [2..7, 12..17, 22]. Steps ('1-9:2') are honoured.
 * Returns undefined for text that is not a range list.
 */
export function expandArrayRange(spec: string): number[] | undefined {
  const body = spec.replace(/%\d+$/, '')
  const out: number[] = []
  for (const part of body.split(',')) {
    const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part.trim())
    if (!m) return undefined
    const from = Number(m[1])
    const to = m[2] === undefined ? from : Number(m[2])
    const step = m[3] === undefined ? 1 : Math.max(1, Number(m[3]))
    if (to < from || out.length + (to - from) / step > MAX_EXPAND) return undefined
    for (let i = from; i <= to; i += step) out.push(i)
  }
  return out
}

interface ParsedId {
  baseId: string
  /** undefined: a plain job (or an array's own record seen before its tasks). */
  tasks?: number[]
  compact: boolean
  /** a step row such as 12.batch or 12_3.0 */
  step: boolean
}

/** '12', '12_3', '12_[2-4%25]', '12.batch', '12_3.extern' */
export function parseJobId(id: string): ParsedId | undefined {
  const m = /^(\d+)(?:_(\d+|\[[^\]]*\]))?(\.[\w+-]+)?$/.exec(id.trim())
  if (!m) return undefined
  const [, baseId, task, step] = m as unknown as [string, string, string | undefined, string | undefined]
  if (task === undefined) return { baseId, compact: false, step: step !== undefined }
  if (!task.startsWith('[')) return { baseId, tasks: [Number(task)], compact: false, step: step !== undefined }
  const tasks = expandArrayRange(task.slice(1, -1))
  return tasks && { baseId, tasks, compact: true, step: step !== undefined }
}

/** Where the '_' of a plain array task id 'A_i' is (digits on both sides), else -1: the common row, read without a regular expression. */
function plainTaskSeparator(id: string): number {
  let us = -1
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i)
    if (c === 95 /* _ */ && us < 0 && i > 0) us = i
    else if (c < 48 || c > 57) return -1
  }
  return us > 0 && us < id.length - 1 ? us : -1
}

/** The field of `line` from `from` to the next '|' (or the line's end), trimmed. */
function field(line: string, from: number, bar: number): string {
  return (bar < 0 ? line.slice(from) : line.slice(from, bar)).trim()
}

function parseExitCode(text: string | undefined): { exitCode?: number; signal?: number } {
  const m = /^(\d+):(\d+)$/.exec(text?.trim() ?? '')
  return m ? { exitCode: Number(m[1]), signal: Number(m[2]) } : {}
}

// A poll parses one row per watched job (10,000 rows is common) but meets only a few distinct
// states and exit codes: parse each of those once.
const stateCache = new Map<string, JobState>()
const exitCache = new Map<string, { exitCode?: number; signal?: number }>()

/** One row's entry (the fields a row does not have are left out). */
function jobEntry(
  jobId: string,
  baseId: string,
  state: JobState,
  rawState: string,
  compact: boolean,
  taskId: number | undefined,
  exit: { exitCode?: number; signal?: number } | undefined,
  reason: string | undefined,
): JobEntry {
  const e: JobEntry = { jobId, baseId, state, rawState, compact }
  if (taskId !== undefined) e.taskId = taskId
  if (exit?.exitCode !== undefined) {
    e.exitCode = exit.exitCode
    e.signal = exit.signal
  }
  if (reason) e.reason = reason
  return e
}

/**
 * Rows 'id|state|third' into a map jobId → entry. An explicit row for a task wins over
 * a compact range row, whatever their order (both can be present while tasks start).
 */
function parseRows(text: string, third: 'exit' | 'reason'): Map<string, JobEntry> {
  const out = new Map<string, JobEntry>()
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf('\n', start)
    if (end < 0) end = text.length
    const line = text.slice(start, end)
    start = end + 1
    const bar1 = line.indexOf('|')
    if (bar1 < 0) continue
    const id = line.slice(0, bar1).trim()
    if (!id) continue
    const bar2 = line.indexOf('|', bar1 + 1)
    const rawState = field(line, bar1 + 1, bar2)
    const bar3 = bar2 < 0 ? -1 : line.indexOf('|', bar2 + 1)
    const extra = bar2 < 0 ? undefined : field(line, bar2 + 1, bar3)
    // sacct's fourth column: the Reason (the pending reason while the job waits)
    const reason = third === 'reason' ? extra || undefined : bar3 >= 0 ? field(line, bar3 + 1, line.indexOf('|', bar3 + 1)) || undefined : undefined
    const us = plainTaskSeparator(id)
    const parsed = us > 0 ? undefined : parseJobId(id)
    if (us < 0 && (!parsed || parsed.step)) continue // steps (.batch, .0, .extern) repeat the allocation row
    const baseId = us > 0 ? id.slice(0, us) : parsed!.baseId
    const compact = parsed?.compact ?? false
    const state = cachedGet(stateCache, rawState, 1000, normalizeState)
    const exit = third === 'exit' && extra ? cachedGet(exitCache, extra, 1000, parseExitCode) : undefined
    if (us > 0) {
      out.set(id, jobEntry(id, baseId, state, rawState, false, Number(id.slice(us + 1)), exit, reason)) // 'A_i': the id is the key as it stands
      continue
    }
    const entry = (jobId: string, taskId?: number): JobEntry => jobEntry(jobId, baseId, state, rawState, compact, taskId, exit, reason)
    const tasks = parsed!.tasks
    if (tasks === undefined) {
      out.set(baseId, entry(baseId))
      continue
    }
    // a compact range (a plain 'A_i' row was read above; 'A_i.step' rows were skipped)
    for (const taskId of tasks) {
      const jobId = `${baseId}_${taskId}`
      if (out.get(jobId)?.compact === false) continue
      out.set(jobId, entry(jobId, taskId))
    }
  }
  return out
}

/** `sacct -X -n -P -o JobID,State,ExitCode[,Reason]` (step rows are ignored). */
export function parseSacct(text: string): Map<string, JobEntry> {
  return parseRows(text, 'exit')
}

/** When and where a job ran, as sacct says (ms since the epoch; absent when it did not start or end). */
export interface SacctTimes {
  startedAt?: number
  endedAt?: number
  host?: string
  /** when it was submitted: a job of a reused id (a reset cluster) was submitted after the submission file was written */
  submittedAt?: number
}

/**
 * `sacct -X -n -P -o JobID,Start,End,NodeList,Submit`: per job id, its start, end, first node and submit time. Times
 * are the controller's local time ('2025-01-02T10:00:03'); 'Unknown', 'None' and anything else
 * that is not a time are left out, as are pending rows ('5_[1-3]') and lines that do not fit.
 */
export function parseSacctTimes(text: string): Map<string, SacctTimes> {
  const out = new Map<string, SacctTimes>()
  const time = (s: string | undefined) => {
    if (!s || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(s)) return undefined
    const ms = new Date(s).getTime()
    return Number.isFinite(ms) ? ms : undefined
  }
  for (const line of text.split('\n')) {
    const [id, start, end, nodes, submit] = line.trim().split('|')
    if (!id || !/^\d+(_\d+)?$/.test(id)) continue
    const entry: SacctTimes = {}
    const s = time(start)
    const e = time(end)
    if (s !== undefined) entry.startedAt = s
    if (e !== undefined) entry.endedAt = e
    const at = time(submit)
    if (at !== undefined) entry.submittedAt = at
    const host = nodes && !/^None/.test(nodes) ? /^[^,[]+(?:\[[^\]]*\])?/.exec(nodes)?.[0] : undefined
    if (host) entry.host = host.includes('[') ? host.replace(/\[(\d+).*$/, '$1') : host
    out.set(id, entry)
  }
  return out
}

/** `squeue -h -t all -r -o '%i|%T|%r'` (compact rows without -r are expanded too). */
export function parseSqueue(text: string): Map<string, JobEntry> {
  return parseRows(text, 'reason')
}

/**
 * `scontrol show config`: 'Key = value' lines into a map. Units are kept ('300 sec');
 * header/footer lines without ' = ' are skipped.
 */
export function parseScontrolConfig(text: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s*=\s?(.*)$/.exec(line)
    if (m && !out.has(m[1]!)) out.set(m[1]!, m[2]!.trim())
  }
  return out
}

/** MaxArraySize from a parsed config: array indices must stay below it. Default 1001. */
export function maxArraySize(config: Map<string, string>): number {
  const n = Number.parseInt(config.get('MaxArraySize') ?? '', 10)
  return Number.isFinite(n) && n > 0 ? n : 1001
}

/**
 * Pending reasons that mean the job will never start as it is: Slurm keeps such a job PENDING
 * forever (it does not fail it). One list for the library, documented in the README:
 * - DependencyNeverSatisfied: a job it depends on ended in a way the dependency excludes;
 * - BadConstraints: no node can ever satisfy the request (memory, features...);
 * - PartitionNodeLimit, PartitionTimeLimit, PartitionConfig: the request is outside what the
 *   partition allows (more nodes than it has, a longer time than its MaxTime, more CPUs than a node);
 * - InvalidAccount, InvalidQOS;
 * - (QOS|Assoc)Max…PerJob…: a per-job limit of the QOS or association is lower than the request.
 * Not in it: ReqNodeNotAvail (also what a job shows before a maintenance reservation, after which it
 * runs), Resources, Priority, BeginTime, JobHeld*, Dependency, ...: they pass.
 */
export const NEVER_RUNNABLE_REASONS: readonly string[] = [
  'DependencyNeverSatisfied',
  'BadConstraints',
  'PartitionNodeLimit',
  'PartitionTimeLimit',
  'PartitionConfig',
  'InvalidAccount',
  'InvalidQOS',
]
const NEVER_RUNNABLE = new Set(NEVER_RUNNABLE_REASONS)

/** Does a pending reason mean the job can never start (see NEVER_RUNNABLE_REASONS)? */
export function isNeverRunnable(reason: string | undefined): boolean {
  if (!reason) return false
  const word = reason.split(/[\s,(]/)[0]!
  return NEVER_RUNNABLE.has(word) || /^(QOS|Assoc)Max\w*PerJob/.test(word)
}
