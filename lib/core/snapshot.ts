// The core side of code snapshots (see lib/helpers/snapshot.ts): while a snapshot is active in an
// async flow, the submissions prepared in it name their task modules, and the classes of their
// serializable values, by their copies in the snapshot, so that editing the code after submitting
// never changes what pending or requeued jobs run. Node finds modules by URL: rewriting the URLs
// stored in the submission is all it takes.
import { AsyncLocalStorage } from 'node:async_hooks'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { ParameterError } from './errors.js'
import type { PreparedArray } from './executor.js'

/** A copy of a project's files: `files` (relative to `root`) are in `folder`. */
export interface ActiveSnapshot {
  root: string
  folder: string
  files: ReadonlySet<string>
}

const active = new AsyncLocalStorage<ActiveSnapshot>()

/** Runs `fn` with `snapshot` active for the submissions made in its async flow. */
export function runInSnapshot<T>(snapshot: ActiveSnapshot, fn: () => T): T {
  return active.run(snapshot, fn)
}

/**
 * The URL of `moduleUrl`'s copy in the active snapshot. Modules outside the project (packages under
 * node_modules, the snapshot itself, other folders) are left as they are; a project file the snapshot
 * does not hold is an error, since the job would silently run the live code.
 */
export function snapshotModule(moduleUrl: string, snapshot = active.getStore()): string {
  if (!snapshot || !moduleUrl.startsWith('file:')) return moduleUrl
  const url = new URL(moduleUrl)
  const file = fileURLToPath(url)
  const rel = path.relative(snapshot.root, file)
  const inside = (dir: string) => {
    const r = path.relative(dir, file)
    return r !== '' && !r.startsWith('..') && !path.isAbsolute(r)
  }
  if (!inside(snapshot.root) || inside(snapshot.folder) || rel.split(path.sep).includes('node_modules')) return moduleUrl
  const key = rel.split(path.sep).join('/')
  if (!snapshot.files.has(key)) {
    throw new ParameterError(
      `${file} is not in the code snapshot ${snapshot.folder}: only the files git tracks are copied ` +
        `(and those the include globs name); git add it, or pass include: ['${key.split('/')[0]}/**'] (e.g. for a build folder)`,
    )
  }
  const copy = pathToFileURL(path.join(snapshot.folder, rel))
  copy.search = url.search
  copy.hash = url.hash
  return copy.href
}

/** The key of values.ts's markers: a marker with a `cls` names a serializable class by module. */
const MARK = '__submitit_ts__'

/** A prepared submission whose module URLs point into the active snapshot (the same one when none is). */
export function snapshotted(prepared: PreparedArray): PreparedArray {
  const snapshot = active.getStore()
  if (!snapshot) return prepared
  const fns = prepared.fns.map((ref) => ({ ...ref, module: snapshotModule(ref.module, snapshot) }))
  if (prepared.marked) {
    // the encoded arguments are fresh copies, but their class references are shared with the
    // registry of serializable classes: replace them, never change them
    const seen = new Set<object>()
    const walk = (v: unknown): void => {
      if (typeof v !== 'object' || v === null || seen.has(v) || ArrayBuffer.isView(v)) return
      seen.add(v)
      const rec = v as Record<string, unknown>
      const cls = rec.cls as { module?: unknown; name?: unknown } | undefined
      if (MARK in rec && typeof cls?.module === 'string') rec.cls = { ...cls, module: snapshotModule(cls.module, snapshot) }
      if (v instanceof Map)
        for (const [k, x] of v) {
          walk(k)
          walk(x)
        }
      else if (v instanceof Set) for (const x of v) walk(x)
      else for (const x of Object.values(v)) walk(x)
    }
    walk(prepared.args)
  }
  return { ...prepared, fns }
}
