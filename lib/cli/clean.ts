// submitit-ts clean <folder>: removes the files of arrays (and single jobs) whose jobs have all
// ended; never those of an array with a job still pending or running.
import fs from 'node:fs'
import path from 'node:path'
import { findSubmissions } from '../core/info.js'
import { readSubmission, type SubmissionRecord } from '../core/format.js'
import { isFinalState, JOB_STATES, type JobState } from '../core/job.js'
import { arrayFolder, JobPaths, makeJobId, submittedPath } from '../core/paths.js'
import { arrayStatus, CliError, resolveId, type Io } from './common.js'

const UNITS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 }

/** '7d', '12h', '30m', '45s', '2w' → milliseconds. */
export function parseAge(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(text)
  if (!m) throw new CliError(`--older-than takes an age such as 7d, 12h, 30m (s, m, h, d, w), not '${text}'`, 2)
  return Number(m[1]) * UNITS[m[2]]
}

/** The files of one array (or single job): its folder's files named after it, and its jobs' own. */
export function filesOf(record: SubmissionRecord): { files: string[]; folders: string[] } {
  const shared = arrayFolder(record.folder, record.arrayId, record.isArray)
  const files: string[] = []
  const folders = new Set<string>()
  const prefix = `${record.arrayId}_`
  for (const name of readdir(shared)) if (name.startsWith(prefix) || name === `slurm-${record.arrayId}.out`) files.push(path.join(shared, name))
  const numTasks = record.params.tasksPerNode * record.params.nodes
  const size = record.isArray ? record.args.length : 1
  const seen = new Set<string>([shared])
  for (let i = 0; i < size; i++) {
    const index = record.isArray ? i : null
    const jobId = makeJobId(record.arrayId, index)
    const paths = new JobPaths(record.folder, jobId, { arrayId: record.arrayId, index })
    for (let t = 0; t < numTasks; t++) {
      const dir = path.dirname(paths.stdout(t))
      if (seen.has(dir)) continue // listed once (the array's folder holds every job's with a plain folder)
      seen.add(dir)
      folders.add(dir)
      for (const name of readdir(dir)) if (name.startsWith(`${jobId}_`) || name === `slurm-${jobId}.out`) files.push(path.join(dir, name))
    }
  }
  folders.add(shared)
  return { files, folders: [...folders] }
}

function readdir(dir: string): string[] {
  try {
    return fs.readdirSync(dir)
  } catch {
    return []
  }
}

export async function clean(
  folder: string,
  ids: string[],
  options: { 'older-than'?: string; state?: string[]; 'dry-run'?: boolean; json?: boolean },
  io: Io,
): Promise<number> {
  const olderThan = options['older-than'] === undefined ? 0 : parseAge(options['older-than'])
  const wanted = (options.state ?? []).flatMap((s) => s.split(',')).map((s) => s.trim().toUpperCase())
  for (const s of wanted) {
    if (!JOB_STATES.includes(s as JobState) || !isFinalState(s as JobState)) {
      throw new CliError(`--state takes final states (completed, failed, cancelled, timeout, ...), not '${s.toLowerCase()}'`, 2)
    }
  }
  const records =
    ids.length > 0
      ? ids.map((id) => resolveId(folder, id)).map((t) => t.record)
      : findSubmissions(folder).flatMap((f) => {
          try {
            return [readSubmission(f.file)]
          } catch {
            return []
          }
        })
  const removed: { arrayId: string; files: number; bytes: number }[] = []
  const kept: { arrayId: string; why: string }[] = []
  const now = Date.now()
  for (const record of records) {
    const { scan, states } = await arrayStatus(record)
    const open = states.filter((s) => !isFinalState(s)).length
    if (open > 0) {
      kept.push({ arrayId: record.arrayId, why: `${open} job${open === 1 ? '' : 's'} not finished` })
      continue
    }
    if (wanted.length > 0 && !states.every((s) => wanted.includes(s))) {
      kept.push({ arrayId: record.arrayId, why: `not every job is ${wanted.join(' or ').toLowerCase()}` })
      continue
    }
    let ended = -Infinity
    for (let i = 0; i < scan.size; i++) if (scan.endedAt[i] > ended) ended = scan.endedAt[i]
    // no timings (older records): the submission file's last touch (the owner's heartbeat while it ran)
    if (!Number.isFinite(ended)) ended = fs.statSync(submittedPath(record.folder, record.arrayId, record.isArray), { throwIfNoEntry: false })?.mtimeMs ?? now
    if (now - ended < olderThan) {
      kept.push({ arrayId: record.arrayId, why: `ended ${Math.round((now - ended) / 60e3)} min ago` })
      continue
    }
    const { files, folders } = filesOf(record)
    let bytes = 0
    for (const file of files) {
      bytes += fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0
      if (!options['dry-run']) fs.rmSync(file, { force: true })
    }
    if (!options['dry-run']) {
      // folders made for these jobs alone go too, once empty; the executor's own stays
      for (const dir of folders) {
        if (dir !== path.resolve(folder) && readdir(dir).length === 0)
          try {
            fs.rmdirSync(dir)
          } catch {
            /* in use again */
          }
      }
    }
    removed.push({ arrayId: record.arrayId, files: files.length, bytes })
    if (!options.json) {
      if (options['dry-run']) for (const file of files) io.out(`would remove ${file}`)
      else io.out(`removed ${record.arrayId}: ${files.length} files, ${(bytes / 1024).toFixed(0)} KiB`)
    }
  }
  if (options.json) io.out(JSON.stringify({ dryRun: options['dry-run'] === true, removed, kept }, null, 2))
  else if (kept.length > 0)
    io.err(
      `kept ${kept.length}: ${kept
        .slice(0, 5)
        .map((k) => `${k.arrayId} (${k.why})`)
        .join(', ')}${kept.length > 5 ? ', …' : ''}`,
    )
  return 0
}
