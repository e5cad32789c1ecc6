// submitit parity, code snapshots (RsyncSnapshot): jobs submitted inside withCodeSnapshot() import
// their task modules (and serializable classes) from a copy of the project's git-tracked files, so
// editing the code after submitting never changes what pending or requeued jobs run.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { CodeSnapshot, DebugExecutor, delayed, functionSequence, LocalExecutor, withCodeSnapshot, type TaskLike } from '../dist/lib/index.js'
import { globRegExp } from '../dist/lib/helpers/snapshot.js'
import { distUrl } from './helpers/paths.js'
import { rejection } from './helpers/waiting.js'

/** A small project in its own git repository: tasks.js imports helper.js, which the test edits. */
function makeRepo(dir: string): string {
  const repo = path.join(dir, 'repo')
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(repo, rel)), { recursive: true })
    fs.writeFileSync(path.join(repo, rel), text)
  }
  write('package.json', '{ "type": "module" }\n')
  write('helper.js', "export const TAG = 'v1'\n")
  write(
    'tasks.js',
    `import { serializable, task } from ${JSON.stringify(distUrl('lib/index.js'))}
import { TAG } from './helper.js'
export class Box { constructor(v) { this.v = v } }
serializable(import.meta.url, Box)
export const version = task(import.meta.url, () => TAG)
export const where = task(import.meta.url, (b) => ({ url: import.meta.url, isBox: b instanceof Box, v: b.v }))
`,
  )
  write('notes/todo.txt', 'tracked, excluded\n')
  write(
    'scratch.js',
    `import { task } from ${JSON.stringify(distUrl('lib/index.js'))}
export const untracked = task(import.meta.url, () => 'scratch')
`,
  )
  write('build/gen.js', 'export const generated = 1\n')
  write('node_modules/some-package/index.js', 'export default 1\n')
  execFileSync('git', ['init', '-q'], { cwd: repo })
  execFileSync('git', ['add', 'package.json', 'helper.js', 'tasks.js', 'notes/todo.txt'], { cwd: repo })
  return repo
}

interface RepoTasks {
  Box: new (v: number) => { v: number }
  version: TaskLike<[], string>
  where: TaskLike<[{ v: number }], { url: string; isBox: boolean; v: number }>
}

t.test("a pending job runs the snapshot's code, whatever is edited after the submit", async (t) => {
  const dir = t.testdir()
  const repo = makeRepo(dir)
  const snap = path.join(dir, 'snap')
  const { Box, version, where } = (await import(pathToFileURL(path.join(repo, 'tasks.js')).href)) as RepoTasks
  const ex = new DebugExecutor({ folder: `${dir}/logs/%j` }) // a job runs when it is first awaited: it is pending until then
  const [v, w] = await withCodeSnapshot(
    { folder: snap, root: repo, include: ['build/**'], exclude: ['notes'] },
    async () => [await ex.submit(version), await ex.submit(where, new Box(3))] as const,
  )
  fs.writeFileSync(path.join(repo, 'helper.js'), "export const TAG = 'v2'\n") // edited after submitting
  t.equal(v.state, 'PENDING')
  t.equal(await v.result(), 'v1', "the snapshot's helper.js, not the edited one")
  t.ok((await v.submission()).task.module.startsWith(pathToFileURL(snap).href), 'the submission names the copy')
  t.same(
    await w.result(),
    { url: pathToFileURL(path.join(fs.realpathSync(snap), 'tasks.js')).href, isBox: true, v: 3 },
    "a serializable argument is re-created from the snapshot's class, which the snapshot's task knows",
  )

  t.ok(fs.existsSync(path.join(snap, 'tasks.js')))
  t.ok(fs.existsSync(path.join(snap, 'build', 'gen.js')), 'include: an untracked build file')
  t.notOk(fs.existsSync(path.join(snap, 'notes')), 'exclude: a tracked folder left out')
  t.notOk(fs.existsSync(path.join(snap, 'scratch.js')), 'untracked files are not copied')
  t.ok(fs.lstatSync(path.join(snap, 'node_modules')).isSymbolicLink(), 'node_modules is linked, for bare imports')
})

t.test('a CodeSnapshot taken before an edit keeps the old code for later submissions; outside it, the new code', async (t) => {
  const dir = t.testdir()
  const repo = makeRepo(dir)
  const { version } = (await import(pathToFileURL(path.join(repo, 'tasks.js')).href + '?second')) as RepoTasks
  const snapshot = CodeSnapshot.take({ folder: path.join(dir, 'snap'), root: repo })
  t.same([...snapshot.files], ['helper.js', 'notes/todo.txt', 'package.json', 'tasks.js'], 'the git-tracked files')
  fs.writeFileSync(path.join(repo, 'helper.js'), "export const TAG = 'v2'\n")
  const ex = new LocalExecutor({ folder: `${dir}/logs/%j`, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const inside = await snapshot.run(() => ex.submit(version))
  const outside = await ex.submit(version)
  t.equal(await inside.result(), 'v1', "the snapshot's code, in a pool thread too")
  t.equal(await outside.result(), 'v2', 'the live code outside the snapshot')

  const seq = await snapshot.run(() => functionSequence([delayed(version)]))
  const calls = seq.args[0] as { task: { module: string } }[]
  t.ok(calls[0].task.module.startsWith(pathToFileURL(snapshot.folder).href), "a function sequence's calls use the snapshot too")
  t.same(await (await ex.submitArray([seq]))[0].result(), ['v1'])
})

t.test('what a snapshot refuses', async (t) => {
  const dir = t.testdir()
  const repo = makeRepo(dir)
  const { untracked } = (await import(pathToFileURL(path.join(repo, 'scratch.js')).href)) as { untracked: TaskLike<[], string> }
  const ex = new DebugExecutor({ folder: `${dir}/logs/%j` })
  const snapshot = CodeSnapshot.take({ folder: path.join(dir, 'snap'), root: repo })
  const e = await rejection(snapshot.run(() => ex.submit(untracked)))
  t.match(e.message, /scratch\.js is not in the code snapshot .*git add it/, 'a task module git does not track: the job would run live code')
  t.throws(() => CodeSnapshot.take({ folder: path.join(dir, 'snap'), root: repo }), /already holds files: a snapshot is never overwritten/)
  const plain = fs.mkdtempSync(path.join(os.tmpdir(), 'parity-snapshot-'))
  t.teardown(() => fs.rmSync(plain, { recursive: true, force: true }))
  t.throws(() => CodeSnapshot.take({ folder: path.join(dir, 'other'), root: plain }), /a code snapshot needs git: `git ls-files/, 'not a git repository')
  t.equal(await (await ex.submit(untracked)).result(), 'scratch', 'outside a snapshot, nothing changes')
})

t.test('globs', async (t) => {
  const m = (g: string, p: string) => globRegExp(g).test(p)
  t.ok(m('dist/**', 'dist/a/b.js'))
  t.ok(m('dist', 'dist/a/b.js'), 'a folder means what is under it')
  t.ok(m('src/*.ts', 'src/a.ts'))
  t.notOk(m('src/*.ts', 'src/sub/a.ts'), '* stays within a folder')
  t.ok(m('**/*.test.ts', 'test/x.test.ts'))
  t.ok(m('**/*.test.ts', 'x.test.ts'), '**/ is zero or more folders')
  t.ok(m('submitit/test_*', 'submitit/test_helpers.py'), "submitit's exclude example")
  t.notOk(m('submitit/test_*', 'submitit/helpers.py'))
  t.notOk(m('a.js', 'b/a.js'), 'anchored at the root')
})
