// A task in a .ts module: the worker must load TypeScript source (submitit-ts registers tsx for it).
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import t from 'tap'
import { DebugExecutor, LocalExecutor, taskRef } from '../dist/lib/index.js'
import { distPath, distUrl, FIXTURES, TSX_CLI } from './helpers/paths.js'
import { runNode, writeScript } from './helpers/processes.js'

const TS_MODULE = pathToFileURL(path.join(FIXTURES, 'ts-task.ts')).href
type Shout = typeof import('../fixtures/ts-task.js').shout

t.test('in this process: LocalExecutor and DebugExecutor run a task from fixtures/ts-task.ts', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const shout = taskRef<Shout>(TS_MODULE, 'shout')
  t.same(await (await ex.submit(shout, 'hello')).result(), { text: 'HELLO!', length: 6 })
  const sub = await (await ex.submit(shout, 'x')).submission()
  t.equal(sub.task.module, TS_MODULE, 'the submission names the .ts module itself')
  const failing = await ex.submit(taskRef<(m: string) => never>(TS_MODULE, 'failTs'), 'no')
  const e = await failing.exception()
  t.match(e?.message, /ts says: no/)
  t.match(e?.remoteStack, /ts-task\.ts/, 'the remote stack names the .ts file')
  const d = new DebugExecutor({ folder: `${folder}/debug-%j` })
  t.same(await (await d.submit(shout, 'Quiet', 'quiet' as never)).result(), { text: 'quiet', length: 5 })
  await t.rejects(ex.submit(taskRef<Shout>(TS_MODULE, 'nope'), 'x'), /has no exported function "nope".*shout/)
})

// a plain `node` (no loader of tap's): the library itself must make the .ts module loadable
const SCRIPT = `
import { DebugExecutor, LocalExecutor, taskRef } from ${JSON.stringify(distUrl('lib/index.js'))}
const [folder, mod] = process.argv.slice(2)
const ex = new LocalExecutor({ folder: folder + '/%j', maxWorkers: 2 })
const out = {}
out.single = await (await ex.submit(taskRef(mod, 'shout'), 'hi')).result()
const jobs = await ex.mapArray(taskRef(mod, 'slowDouble'), [1, 2, 3, 4, 5])
out.array = await Promise.all(jobs.map((j) => j.result()))
out.error = (await (await ex.submit(taskRef(mod, 'failTs'), 'bad')).exception())?.message.split('\\n')[0]
const d = new DebugExecutor({ folder: folder + '/debug-%j' })
const dj = await d.submit(taskRef(mod, 'shout'), 'dbg')
out.debug = await dj.result()
out.debugJob = dj.jobId
await ex.shutdown()
console.log(JSON.stringify(out))
`

t.test('in a plain node process: the worker threads load the .ts module', async (t) => {
  const dir = t.testdir()
  const script = writeScript(dir, 'ts-task.mjs', SCRIPT)
  const r = await runNode([script, dir, TS_MODULE], { timeoutMs: 120_000 })
  t.equal(r.code, 0, `exit code 0 ${r.stderr}`)
  t.equal(r.signal, null)
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>
  t.same(out.single, { text: 'HI!', length: 3 })
  t.same(out.array, [2, 4, 6, 8, 10])
  t.match(out.error, /failed: Error: ts says: bad/)
  t.same(out.debug, { text: 'DBG!', length: 4 })

  // the worker CLI, a plain node too, runs the submission of that .ts task
  const cli = await runNode([distPath('worker/main.js'), `${dir}/debug-%j`, '--array-id', String(out.debugJob)])
  t.equal(cli.code, 0, `worker CLI exit code 0 (${cli.stderr})`)
})

const TS_CLASS_MODULE = `
import { serializable, task } from ${JSON.stringify(distUrl('lib/index.js'))}
export class Money {
  constructor(public cents: number) {}
  format(): string { return (this.cents / 100).toFixed(2) + ' EUR' }
}
serializable(import.meta.url, Money)
export const makeMoney = task(import.meta.url, (cents: number): Money => new Money(cents))
`
const TS_CLASS_SUBMITTER = `
import { LocalExecutor, taskRef } from ${JSON.stringify(distUrl('lib/index.js'))}
const [folder, mod] = process.argv.slice(2)
const ex = new LocalExecutor({ folder, maxWorkers: 1 })
const job = await ex.submit(taskRef(mod, 'makeMoney'), 1234)
const m = await job.result()
console.log(JSON.stringify({ jobId: job.jobId, formatted: m.format() }))
`
const TS_CLASS_ATTACHER = `
import { attachJob } from ${JSON.stringify(distUrl('lib/index.js'))}
const [folder, jobId] = process.argv.slice(2)
try {
  const m = await attachJob(folder, jobId).result()
  console.log(JSON.stringify({ formatted: m.format() }))
} catch (e) {
  console.log(JSON.stringify({ error: e.message }))
}
`
t.test('a serializable class from a .ts module, read back by another process', async (t) => {
  const dir = t.testdir()
  const mod = pathToFileURL(writeScript(dir, 'money.ts', TS_CLASS_MODULE)).href
  const submitter = writeScript(dir, 'submit.mjs', TS_CLASS_SUBMITTER)
  const r = await runNode([submitter, `${dir}/%j`, mod], { timeoutMs: 120_000 })
  t.equal(r.code, 0, `exit code 0 ${r.stderr}`)
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { jobId: string; formatted: string }
  t.equal(out.formatted, '12.34 EUR', 'the submitting process gets a Money back')
  const a = await runNode([writeScript(dir, 'attach.mjs', TS_CLASS_ATTACHER), `${dir}/%j`, out.jobId])
  t.equal(a.code, 0, `exit code 0 ${a.stderr}`)
  const attached = JSON.parse(a.stdout.trim().split('\n').pop() ?? '{}') as { formatted?: string; error?: string }
  t.equal(attached.formatted, '12.34 EUR', `another process re-creates the Money (${attached.error ?? 'ok'})`)
})

// `npx tsx main.ts`: the pool threads inherit tsx's execArgv but, on Node 20, not its hooks
const TSX_TASKS = `
import { task } from ${JSON.stringify(distUrl('lib/index.js'))}
import { helper } from './helper.js'
export enum Unit { Cm = 'cm' }
export const measure = task(import.meta.url, async (n: number): Promise<string> => \`\${helper(n)} \${Unit.Cm}\`)
`
const TSX_HELPER = 'export const helper = (n: number): number => n * 10\n'
const TSX_MAIN = `
import { DebugExecutor, LocalExecutor, taskRef } from ${JSON.stringify(distUrl('lib/index.js'))}
import { measure } from './tasks.js'
const folder = process.argv[2]
const ex = new LocalExecutor({ folder: folder + '/%j', maxWorkers: 2 })
const d = new DebugExecutor({ folder: folder + '/debug-%j' })
const out: Record<string, unknown> = {}
// first, a module this script has not imported, next to a .js of the same name: whether tsx's hooks
// are active cannot be told from it, so tsx is registered again in this thread, over its own hooks
const other = taskRef<(n: number) => Promise<string>>(new URL('./other.ts', import.meta.url).href, 'measure')
out.twinDebug = await (await d.submit(other, 6)).result()
out.twinLocal = await (await ex.submit(other, 7)).result()
const jobs = await ex.mapArray(measure, [1, 2, 3, 4])
out.local = await Promise.all(jobs.map((j) => j.result()))
out.debug = await (await d.submit(measure, 5)).result()
console.log(JSON.stringify(out))
`
t.test('under tsx (`tsx main.ts`): .ts task modules load in the pool threads and in this thread', async (t) => {
  const dir = t.testdir({
    'package.json': '{ "type": "module" }',
    'tasks.ts': TSX_TASKS,
    'helper.ts': TSX_HELPER,
    'other.ts': TSX_TASKS.replace("Cm = 'cm'", "Cm = 'mm'"),
    'other.js': 'throw new Error("other.js must not be imported: other.ts is the module")\n',
    'main.ts': TSX_MAIN,
  })
  const r = await runNode([TSX_CLI, 'main.ts', dir], { cwd: dir, timeoutMs: 120_000 })
  t.equal(r.code, 0, `exit code 0 (${r.stderr})`)
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>
  t.same(out.local, ['10 cm', '20 cm', '30 cm', '40 cm'], 'LocalExecutor')
  t.equal(out.debug, '50 cm', 'DebugExecutor')
  t.equal(out.twinDebug, '60 mm', 'tsx registered twice in this thread: still loads .ts')
  t.equal(out.twinLocal, '70 mm', 'and in a pool thread')
})
