// submitit-ts clean <folder>: removes the files of arrays (and single jobs) whose jobs have all
// ended; never those of an array with a job still pending or running.
import fs from 'node:fs'
import path from 'node:path'
import { findSubmissions, folderResolver } from '../core/info.js'
import { readSubmission, type SubmissionRecord } from '../core/format.js'
import { isFinalState, JOB_STATES, type JobState } from '../core/job.js'
import { arrayFolder, makeJobId } from '../core/paths.js'
import { arrayStatus, CliError, resolveId, staticPart, type Io } from './common.js'

const UNITS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 }

/** 3d04h, 2h05m, 12 min, 40 s: how long ago, as kept arrays say. */
function age(ms: number): string {
  const m = Math.floor(ms / 60e3)
  if (m < 1) return `${Math.round(ms / 1000)} s`
  if (m < 120) return `${m} min`
  if (m < 48 * 60) return `${Math.floor(m / 60)} h`
  return `${Math.floor(m / 1440)} days`
}

/** '7d', '12h', '30m', '45s', '2w' → milliseconds. */
export function parseAge(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(text)
  if (!m) throw new CliError(`--older-than takes an age such as 7d, 12h, 30m (s, m, h, d, w), not '${text}'`, 2)
  return Number(m[1]) * UNITS[m[2]]
}

/**
 * The files of one array (or single job) under the folder template `folder`: its folder's files
 * named after it, its jobs' own folders' (looked into only when their parent's listing, made once,
 * holds them), and Slurm's own logs (slurm-<A>.out, slurm-<A>_<i>.out) in the part of the template
 * without ids, where the batch script sends them.
 */
export function filesOf(record: SubmissionRecord, folder: string): { files: string[]; folders: string[] } {
  const template = path.resolve(folder)
  const shared = arrayFolder(template, record.arrayId, record.isArray)
  const files: string[] = []
  const folders = new Set<string>()
  const prefix = `${record.arrayId}_`
  const slurmLog = new RegExp(`^slurm-${record.arrayId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(_\\d+)?\\.out$`)
  const seen = new Set<string>()
  const take = (dir: string, keep: (name: string) => boolean) => {
    if (seen.has(dir)) return
    seen.add(dir)
    for (const name of readdir(dir)) if (keep(name)) files.push(path.join(dir, name))
  }
  take(shared, (name) => name.startsWith(prefix) || slurmLog.test(name))
  take(staticPart(template), (name) => slurmLog.test(name))
  const numTasks = record.params.tasksPerNode * record.params.nodes
  const size = record.isArray ? record.args.length : 1
  const folderOf = folderResolver(template)
  const parents = new Map<string, Set<string>>()
  for (let i = 0; i < size; i++) {
    const jobId = makeJobId(record.arrayId, record.isArray ? i : null)
    for (let t = 0; t < numTasks; t++) {
      const dir = folderOf({ j: jobId, A: record.arrayId, a: record.isArray ? String(i) : '', t: String(t) })
      if (seen.has(dir)) continue // listed once (the array's folder holds every job's with a plain folder)
      const parent = path.dirname(dir)
      let names = parents.get(parent)
      if (!names) parents.set(parent, (names = new Set(readdir(parent))))
      if (!names.has(path.basename(dir))) continue
      folders.add(dir)
      take(dir, (name) => name.startsWith(`${jobId}_`) || name === `slurm-${jobId}.out`)
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
  const unreadable: { file: string; error: string }[] = []
  const records =
    ids.length > 0
      ? ids.map((id) => resolveId(folder, id)).map((t) => t.record)
      : findSubmissions(folder).flatMap((f) => {
          try {
            return [readSubmission(f.file)]
          } catch (e) {
            unreadable.push({ file: f.file, error: (e as Error).message }) // never removed: nobody knows whose jobs they are
            return []
          }
        })
  const removed: { arrayId: string; files: number; bytes: number }[] = []
  const kept: { arrayId: string; why: string }[] = []
  const now = Date.now()
  for (const record of records) {
    const { scan, states } = await arrayStatus(record, folder)
    const open = states.filter((s) => !isFinalState(s)).length
    if (open > 0) {
      kept.push({ arrayId: record.arrayId, why: `${open} job${open === 1 ? '' : 's'} not finished` })
      continue
    }
    if (wanted.length > 0 && !states.every((s) => wanted.includes(s))) {
      kept.push({ arrayId: record.arrayId, why: `not every job is ${wanted.join(' or ').toLowerCase()}` })
      continue
    }
    const { files, folders } = filesOf(record, folder)
    // when it ended: its last job's end, or its files' last change (a job killed by the scheduler has no
    // timings; a log is written to the end; the submission file was the owner's heartbeat while it ran)
    let ended = -Infinity
    for (let i = 0; i < scan.size; i++) if (scan.endedAt[i] > ended) ended = scan.endedAt[i]
    let bytes = 0
    const stats = files.map((file) => fs.statSync(file, { throwIfNoEntry: false }))
    files.forEach((file, k) => {
      bytes += stats[k]?.size ?? 0
      if (!/_rerun\.(json|lock)$/.test(file)) ended = Math.max(ended, stats[k]?.mtimeMs ?? -Infinity)
    })
    if (!Number.isFinite(ended)) ended = now
    if (now - ended < olderThan) {
      kept.push({ arrayId: record.arrayId, why: `ended ${age(now - ended)} ago` })
      continue
    }
    if (!options['dry-run']) for (const file of files) fs.rmSync(file, { force: true })
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
  for (const u of unreadable) io.err(`left ${u.file} alone: ${u.error}`)
  if (options.json) io.out(JSON.stringify({ dryRun: options['dry-run'] === true, removed, kept, unreadable }, null, 2))
  else if (kept.length > 0)
    io.err(
      `kept ${kept.length}: ${kept
        .slice(0, 5)
        .map((k) => `${k.arrayId} (${k.why})`)
        .join(', ')}${kept.length > 5 ? ', …' : ''}`,
    )
  return 0
}
