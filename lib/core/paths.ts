// The on-disk contract: every file name of a job is made here, for every backend.
//
//   <folder of the array>/<A>_submitted.v8                 the submission of a whole array (or one job)
//   <folder of the job>/<jobId>_<t>_result.v8               result of task t of one job
//   <folder of the array>/<A>_<i>-<k>_<t>_result.v8         results of tasks t of jobs A_i..A_k (local chunks)
//   <folder of the job>/<jobId>_<t>_log.out / _log.err      what task t printed (created when it prints)
//   <folder of the array>/<A>_running.json                  the elements a local owner runs, as of its last heartbeat
//
// jobId is <A> for a single job and <A>_<a> for element a of an array, as on Slurm.
import path from 'node:path'

export const EXT = 'v8'

export interface FolderVars {
  /** the job id (A_a for an array element) */
  j: string
  /** the array id (the job id for a single job) */
  A: string
  /** the array index, '' for a single job */
  a: string
  /** the task rank */
  t: string
}

/** Replaces %j, %A, %a and %t in a folder template; %% is a literal %. */
export function resolveFolder(template: string, vars: FolderVars): string {
  const { texts, names, normal } = parseTemplate(template)
  let resolved = texts[0]
  let clean = normal
  for (let i = 0; i < names.length; i++) {
    const value = vars[names[i]]
    // a value that could make the path unnormalized ('', '..', 'a/b') needs path.resolve after all
    clean &&= value !== '' && value !== '.' && value !== '..' && !value.includes('/')
    resolved += value + texts[i + 1]
  }
  return clean ? resolved : path.resolve(resolved)
}

/** A template cut at its variables: names[i] comes between texts[i] and texts[i + 1]. */
interface ParsedTemplate {
  texts: string[]
  names: (keyof FolderVars)[]
  /** absolute and normalized, as executors make their folders: path.resolve would not change it */
  normal: boolean
}

/** Every job's files ask for their folder (a single job twice or more): each template is cut once. */
const parsedTemplates = new Map<string, ParsedTemplate>()

function parseTemplate(template: string): ParsedTemplate {
  let parsed = parsedTemplates.get(template)
  if (parsed) return parsed
  const texts = ['']
  const names: (keyof FolderVars)[] = []
  let last = 0
  for (const m of template.matchAll(/%([jAat%])/g)) {
    texts[texts.length - 1] += template.slice(last, m.index) + (m[1] === '%' ? '%' : '')
    if (m[1] !== '%') {
      names.push(m[1] as keyof FolderVars)
      texts.push('')
    }
    last = m.index + 2
  }
  texts[texts.length - 1] += template.slice(last)
  parsed = { texts, names, normal: path.isAbsolute(template) && path.resolve(template) === template }
  if (parsedTemplates.size >= 64) parsedTemplates.clear()
  parsedTemplates.set(template, parsed)
  return parsed
}

/** Splits "A_a" into its array id and index (index null for a single job). */
export function parseJobId(jobId: string): { arrayId: string; index: number | null } {
  const m = /^(.+)_(\d+)$/.exec(jobId)
  return m ? { arrayId: m[1], index: Number(m[2]) } : { arrayId: jobId, index: null }
}

export function makeJobId(arrayId: string, index: number | null): string {
  return index === null ? arrayId : `${arrayId}_${index}`
}

/** Where the files of one job live. */
export class JobPaths {
  readonly jobId: string
  readonly arrayId: string
  readonly index: number | null

  /** `parsed` spares the parsing of jobId when the caller knows its parts (100k jobs at a time). */
  constructor(
    readonly folderTemplate: string,
    jobId: string,
    parsed?: { arrayId: string; index: number | null },
  ) {
    this.jobId = jobId
    const { arrayId, index } = parsed ?? parseJobId(jobId)
    this.arrayId = arrayId
    this.index = index
  }

  private vars(t: number): FolderVars {
    return { j: this.jobId, A: this.arrayId, a: this.index === null ? '' : String(this.index), t: String(t) }
  }

  /** The job's own folder (task 0's, when the template uses %t). */
  get folder(): string {
    return resolveFolder(this.folderTemplate, this.vars(0))
  }

  /** The folder of the files the whole array shares: %a reads "all" there. */
  get arrayFolder(): string {
    return arrayFolder(this.folderTemplate, this.arrayId, this.index !== null)
  }

  get submitted(): string {
    return submittedPath(this.folderTemplate, this.arrayId, this.index !== null)
  }

  resultFile(task = 0): string {
    return path.join(resolveFolder(this.folderTemplate, this.vars(task)), `${this.jobId}_${task}_result.${EXT}`)
  }

  /**
   * The Slurm batch script of the job's array (or single job), `<A>_submission.sh` beside its
   * submission (submitit's `paths.submission_file`: one per array). Only Slurm writes one; the local
   * executors run no script.
   */
  get submissionFile(): string {
    return submissionScriptPath(this.folderTemplate, this.arrayId, this.index !== null)
  }

  /** The arguments a checkpointed job is re-run with (see TaskOptions.checkpoint). */
  get checkpoint(): string {
    return path.join(this.folder, `${this.jobId}_checkpoint.${EXT}`)
  }

  stdout(task = 0): string {
    return path.join(resolveFolder(this.folderTemplate, this.vars(task)), `${this.jobId}_${task}_log.out`)
  }

  stderr(task = 0): string {
    return path.join(resolveFolder(this.folderTemplate, this.vars(task)), `${this.jobId}_${task}_log.err`)
  }
}

export function arrayFolder(template: string, arrayId: string, isArray: boolean): string {
  return resolveFolder(template, { j: arrayId, A: arrayId, a: isArray ? 'all' : '', t: '0' })
}

export function submittedPath(template: string, arrayId: string, isArray: boolean): string {
  return path.join(arrayFolder(template, arrayId, isArray), `${arrayId}_submitted.${EXT}`)
}

/** Which elements a local array's owner runs now, published with its heartbeat (see lib/core/owner.ts). */
export function runningPath(template: string, arrayId: string, isArray: boolean): string {
  return path.join(arrayFolder(template, arrayId, isArray), `${arrayId}_running.json`)
}

/** The Slurm batch script of an array (or single job): beside its submission. */
export function submissionScriptPath(template: string, arrayId: string, isArray: boolean): string {
  return path.join(arrayFolder(template, arrayId, isArray), `${arrayId}_submission.sh`)
}

/** Results of tasks `task` of elements first..last of an array, written as one file. */
export function chunkResultPath(template: string, arrayId: string, first: number, last: number, task: number): string {
  return path.join(arrayFolder(template, arrayId, true), `${arrayId}_${first}-${last}_${task}_result.${EXT}`)
}

/** The file holding the results of `count` elements from `first`: the job's own file for one. */
export function resultsPath(template: string, arrayId: string, isArray: boolean, first: number, count: number, task: number): string {
  if (count === 1) {
    const index = isArray ? first : null
    return new JobPaths(template, makeJobId(arrayId, index), { arrayId, index }).resultFile(task)
  }
  return chunkResultPath(template, arrayId, first, first + count - 1, task)
}
