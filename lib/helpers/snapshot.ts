// Code snapshots (submitit's RsyncSnapshot): copy the project's files to a folder and make the jobs
// submitted meanwhile run that copy, so that editing the code after submitting never changes what
// pending or requeued jobs run. Node finds modules by URL: the submissions made inside the snapshot
// name their task modules (and serializable classes) by their copies (lib/core/snapshot.ts).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { ParameterError } from '../core/errors.js'
import { runInSnapshot } from '../core/snapshot.js'

export interface CodeSnapshotOptions {
  /** where the copy goes: a new or empty folder (a snapshot is never overwritten) */
  folder: string
  /** the project's root; default: the git repository of the current directory */
  root?: string
  /** globs (relative to root) of files to copy although git does not track them, e.g. 'dist/**' */
  include?: readonly string[]
  /** globs of tracked files to leave out, e.g. 'test/**' ('dir' alone means everything under it) */
  exclude?: readonly string[]
  /** copy the files of git submodules too (default false) */
  withSubmodules?: boolean
  /**
   * make <folder>/node_modules a link to the root's, so that the copied modules find their packages
   * (default true; useless when the folder is inside the root, where Node finds them anyway)
   */
  linkNodeModules?: boolean
}

/** A copy of the project's code; jobs submitted in run() import their tasks from it. */
export class CodeSnapshot {
  readonly files: ReadonlySet<string>

  private constructor(
    readonly root: string,
    readonly folder: string,
    files: string[],
  ) {
    this.files = new Set(files)
  }

  /** Copies the git-tracked files of the project (with include, without exclude) to `folder`. */
  static take(options: CodeSnapshotOptions): CodeSnapshot {
    if (typeof options?.folder !== 'string' || options.folder === '') throw new ParameterError('a code snapshot needs a folder')
    const root = fs.realpathSync(options.root ?? git(['rev-parse', '--show-toplevel'], process.cwd()).trim())
    const folder = path.resolve(options.folder)
    if (fs.existsSync(folder) && fs.readdirSync(folder).length > 0) {
      throw new ParameterError(
        `the snapshot folder ${folder} already holds files: a snapshot is never overwritten ` +
          '(the jobs that use it would change); give each snapshot a new folder, e.g. with a date in its name',
      )
    }
    const tracked = git(['ls-files', '-z', ...(options.withSubmodules ? ['--recurse-submodules'] : [])], root)
      .split('\0')
      .filter(Boolean)
    const exclude = (options.exclude ?? []).map(globRegExp)
    const included = (options.include ?? []).flatMap((g) => untrackedMatches(root, g))
    const files = [...new Set([...tracked, ...included])]
      .filter((f) => !exclude.some((re) => re.test(f)))
      .filter((f) => isFile(path.join(root, f))) // a submodule's folder, a tracked file deleted since
      .sort()
    fs.mkdirSync(folder, { recursive: true })
    const real = fs.realpathSync(folder)
    for (const f of files) {
      const to = path.join(real, f)
      fs.mkdirSync(path.dirname(to), { recursive: true })
      fs.copyFileSync(path.join(root, f), to)
    }
    const modules = path.join(root, 'node_modules')
    const insideRoot = !path.relative(root, real).startsWith('..')
    if ((options.linkNodeModules ?? true) && !insideRoot && fs.existsSync(modules) && !fs.existsSync(path.join(real, 'node_modules'))) {
      fs.symlinkSync(modules, path.join(real, 'node_modules'), 'dir')
    }
    return new CodeSnapshot(root, real, files)
  }

  /** Runs `fn`: the jobs it submits (in its async flow) run this snapshot's code. */
  run<T>(fn: () => T): T {
    return runInSnapshot(this, fn)
  }
}

/**
 * Takes a snapshot of the project's code into `options.folder` and runs `fn` in it: every job
 * submitted inside `fn` imports its task modules from the snapshot, now and when requeued.
 *   await withCodeSnapshot({ folder: `snapshots/${Date.now()}` }, () => ex.mapArray(train, lrs))
 */
export async function withCodeSnapshot<T>(options: CodeSnapshotOptions, fn: () => T | Promise<T>): Promise<T> {
  const snapshot = CodeSnapshot.take(options)
  return await snapshot.run(fn)
}

function git(args: string[], cwd: string): string {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 })
  } catch (e) {
    const err = (e as { stderr?: string }).stderr?.trim()
    throw new Error(
      `a code snapshot needs git: \`git ${args.join(' ')}\` in ${cwd} failed${err ? `: ${err}` : ''} ` + "(pass root: the project's git repository)",
      { cause: e },
    )
  }
}

function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile()
  } catch {
    return false
  }
}

/** A glob as a RegExp over '/'-separated relative paths: ** any depth, * and ? within a name; 'dir' matches what is under it. */
export function globRegExp(glob: string): RegExp {
  let re = ''
  const g = glob.replace(/^\.\//, '').replace(/\/+$/, '')
  for (let i = 0; i < g.length; i++) {
    const c = g[i]
    if (c === '*' && g[i + 1] === '*') {
      // '**/' is zero or more folders; '**' alone, anything
      if (g[i + 2] === '/') {
        re += '(?:.*/)?'
        i += 2
      } else {
        re += '.*'
        i++
      }
    } else if (c === '*') re += '[^/]*'
    else if (c === '?') re += '[^/]'
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&')
  }
  return new RegExp(`^${re}(?:/.*)?$`)
}

/** The files under root matching `glob` (walking only the folder its fixed part names). */
function untrackedMatches(root: string, glob: string): string[] {
  const re = globRegExp(glob)
  const parts = glob.replace(/^\.\//, '').split('/')
  const fixed: string[] = []
  for (const p of parts) {
    if (/[*?]/.test(p)) break
    fixed.push(p)
  }
  const start = path.join(root, ...fixed)
  if (!fs.existsSync(start)) return []
  if (isFile(start)) return re.test(fixed.join('/')) ? [fixed.join('/')] : []
  const found: string[] = []
  for (const f of fs.readdirSync(start, { recursive: true }) as string[]) {
    const rel = [...fixed, ...f.split(path.sep)].join('/')
    if (rel.split('/').includes('.git')) continue
    if (re.test(rel) && isFile(path.join(root, rel))) found.push(rel)
  }
  return found
}
