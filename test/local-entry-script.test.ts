// A task defined in the script that submits it (the natural first script). A worker imports a task's
// module to find it: for the entry script that would run the script again in every worker (threads
// spawning threads) or, with top-level await, wait on its own evaluation (node exits 13, silently).
// Submit must refuse it with a clear error instead; the same task in its own module must work.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import { distUrl, TSX_CLI } from './helpers/paths.js'
import { plainEnv, runNode, writeScript, type RunResult } from './helpers/processes.js'

const LIB = JSON.stringify(distUrl('lib/index.js'))
const BOUND_MS = 60_000
const CLEAR =
  /the task (?:\w+ )?is defined in the script being run \((.+)\): a worker imports a task's module to find it, which would run this script again\. Move the task to its own module \(e\.g\. tasks\.ts\) and import it from this script\./

const DEFINE = 'export const double = task(import.meta.url, async (x) => { await new Promise((r) => setTimeout(r, 200)); return x * 2 })'
const IMPORT = "import { double } from './tasks.js'"

/** The script a user writes first: the task, then its submission, in one file (or, `define`, the task imported). */
function mainScript(kind: 'local' | 'debug', style: 'await' | 'then', define = DEFINE): string {
  const ex =
    kind === 'local' ? "new LocalExecutor({ folder: process.argv[2] + '/%j', maxWorkers: 2 })" : "new DebugExecutor({ folder: process.argv[2] + '/%j' })"
  const submit =
    style === 'await'
      ? "const job = await ex.submit(double, 21)\nconsole.log('result', await job.result())"
      : "ex.submit(double, 21).then((job) => job.result()).then((r) => console.log('result', r))"
  return `import { DebugExecutor, LocalExecutor, task } from ${LIB}
console.log('top level ran')
${define}
const ex = ${ex}
${submit}
`
}

interface Watched extends RunResult {
  maxThreads: number
}

/** runNode, also sampling the child's thread count (Linux /proc) while it runs. */
function runWatched(args: string[], cwd: string): Promise<Watched> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now()
    const child = spawn(process.execPath, args, { cwd, env: plainEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let maxThreads = 0
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', (d) => {
      stderr += d
    })
    const sample = setInterval(() => {
      try {
        const m = /^Threads:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))
        if (m) maxThreads = Math.max(maxThreads, Number(m[1]))
      } catch {
        /* gone, or no /proc */
      }
    }, 25)
    const timer = setTimeout(() => child.kill('SIGKILL'), BOUND_MS)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearInterval(sample)
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0, maxThreads })
    })
  })
}

function assertRefused(t: Test, r: RunResult, script: string): void {
  const out = `stdout: ${r.stdout}\nstderr: ${r.stderr}`
  t.equal(r.signal, null, `ended by itself within ${BOUND_MS / 1000} s (${out})`)
  t.not(r.code, 0, 'a non-zero exit code')
  t.not(r.code, 13, 'not "unsettled top-level await" (exit 13)')
  const m = CLEAR.exec(r.stderr)
  t.ok(m, `stderr has the clear message (${out})`)
  if (m) t.equal(fs.realpathSync(m[1]), fs.realpathSync(script), 'it names the script')
  t.equal(r.stdout.match(/top level ran/g)?.length, 1, 'the script ran once')
  t.notMatch(r.stdout, /result/, 'no result')
}

for (const kind of ['local', 'debug'] as const) {
  for (const style of ['await', 'then'] as const) {
    t.test(`${kind}: a task defined in the script it is submitted from (${style}) is refused at submit`, async (t) => {
      const dir = t.testdir({ 'package.json': '{ "type": "module" }' })
      const script = writeScript(dir, 'main.js', mainScript(kind, style))
      const r = await runWatched([script, dir], dir)
      assertRefused(t, r, script)
      // a pool of 2 and node's own threads; the recursion made 100+
      if (fs.existsSync('/proc/self/status')) t.ok(r.maxThreads < 40, `thread count stays sane (max ${r.maxThreads})`)
    })
  }
}

t.test('the entry given without extension, or through a symlink, is recognized', async (t) => {
  const dir = t.testdir({ 'package.json': '{ "type": "module" }' })
  const script = writeScript(dir, 'main.js', mainScript('local', 'await'))
  assertRefused(t, await runNode(['main', dir], { cwd: dir, timeoutMs: BOUND_MS }), script)
  fs.symlinkSync(script, path.join(dir, 'link.js'))
  assertRefused(t, await runNode([path.join(dir, 'link.js'), dir], { cwd: dir, timeoutMs: BOUND_MS }), script)
})

t.test('tsx running a .ts entry that defines its task', async (t) => {
  const dir = t.testdir({ 'package.json': '{ "type": "module" }' })
  for (const [name, source] of [
    ['await.ts', mainScript('local', 'await')],
    ['then.ts', mainScript('debug', 'then')],
  ]) {
    const script = writeScript(dir, name, source.replace('async (x) =>', 'async (x: number): Promise<number> =>'))
    assertRefused(t, await runNode([TSX_CLI, script, dir], { cwd: dir, timeoutMs: BOUND_MS }), script)
  }
})

// the guard of the threads themselves (the submit-time check is bypassed here): a pool thread asked to
// load a task from the submitter's script must refuse it, not import it. A thread's own argv is
// [node, its file]: it learns the entry from the main thread, which loaded the library first.
const WORKER_GUARD = `
import { Worker } from 'node:worker_threads'
import { LocalExecutor } from ${LIB}
console.log('top level ran')
export const double = (x) => x * 2
const code = \`
  import { loadTask } from ${JSON.stringify(distUrl('lib/core/task.js'))}
  import { parentPort } from 'node:worker_threads'
  loadTask({ module: \${JSON.stringify(import.meta.url)}, exportName: 'double' })
    .then(() => parentPort.postMessage('loaded'), (e) => parentPort.postMessage(e.message))
\`
const w = new Worker(new URL('data:text/javascript,' + encodeURIComponent(code)))
w.once('message', (m) => { console.log('worker:', m); w.terminate() })
`
t.test('a worker thread asked to load a task from the entry script fails it without importing it', async (t) => {
  const dir = t.testdir({ 'package.json': '{ "type": "module" }' })
  const script = writeScript(dir, 'main.js', WORKER_GUARD)
  const r = await runNode([script], { cwd: dir, timeoutMs: BOUND_MS })
  t.equal(r.code, 0, `exit code 0 (${r.stderr})`)
  t.match(r.stdout, CLEAR, 'the worker got the clear message')
  t.equal(r.stdout.match(/top level ran/g)?.length, 1, 'the script ran once, not again in the worker')
})

const TASKS = `import { task } from ${LIB}
${DEFINE}
`
t.test('control: the same task in its own module works, on both executors', async (t) => {
  const dir = t.testdir({ 'package.json': '{ "type": "module" }' })
  writeScript(dir, 'tasks.js', TASKS)
  for (const kind of ['local', 'debug'] as const) {
    for (const style of ['await', 'then'] as const) {
      const script = writeScript(dir, `main-${kind}-${style}.js`, mainScript(kind, style, IMPORT))
      const r = await runWatched([script, dir], dir)
      t.equal(r.code, 0, `${kind}, ${style}: exit code 0 (${r.stderr})`)
      t.match(r.stdout, /result 42/, `${kind}, ${style}: the result`)
    }
  }
})

// the task in its own module, but that module imports the script (for a constant): the same trap
const CIRCULAR_TASKS = `import { task } from ${LIB}
import { FACTOR } from './main.js'
export const scale = task(import.meta.url, (x) => x * FACTOR)
`
const circularMain = (style: 'await' | 'then', isolation = 'thread') => `import { LocalExecutor } from ${LIB}
import { scale } from './tasks.js'
export const FACTOR = 2
console.log('top level ran')
const ex = new LocalExecutor({ folder: process.argv[2] + '/%j', maxWorkers: 2, isolation: '${isolation}' })
${
  style === 'await'
    ? "console.log('result', await (await ex.submit(scale, 21)).result())"
    : "ex.submit(scale, 21).then((j) => j.result()).then((r) => console.log('result', r), (e) => { console.error(e.message); process.exitCode = 1 })"
}
`
const IMPORTS_SCRIPT =
  /the module of (?:the task|task scale) imports the script being run: (.+) → (.+)\. A worker imports a task's module to find it, which would run this script again .* Move what the task's module takes from the script/

for (const style of ['await', 'then', 'taskRef'] as const) {
  t.test(`a task whose module imports the script being run (${style}) is refused at submit, naming the chain`, async (t) => {
    const dir = t.testdir({ 'package.json': '{ "type": "module" }' })
    writeScript(dir, 'tasks.js', CIRCULAR_TASKS)
    const source =
      style === 'taskRef'
        ? // a reference by name: the task's module is not imported by the script itself
          circularMain('await').replace(
            "import { scale } from './tasks.js'",
            `import { taskRef } from ${LIB}\nconst scale = taskRef(new URL('./tasks.js', import.meta.url).href, 'scale')`,
          )
        : circularMain(style)
    const script = writeScript(dir, 'main.js', source)
    const r = await runWatched([script, dir], dir)
    const out = `stdout: ${r.stdout}\nstderr: ${r.stderr}`
    t.equal(r.signal, null, `ended by itself (${out})`)
    t.not(r.code, 0, 'a non-zero exit code')
    t.not(r.code, 13, 'not "unsettled top-level await" (exit 13)')
    const m = IMPORTS_SCRIPT.exec(r.stderr)
    t.ok(m, `stderr has the clear message (${out})`)
    if (m) t.same([fs.realpathSync(m[1]), fs.realpathSync(m[2])], [fs.realpathSync(path.join(dir, 'tasks.js')), fs.realpathSync(script)])
    t.equal(r.stdout.match(/top level ran/g)?.length, 1, 'the script ran once')
  })
}

t.test('a task module naming the script only in a comment, or in an import() inside a function, is not refused', async (t) => {
  const dir = t.testdir({ 'package.json': '{ "type": "module" }' })
  writeScript(
    dir,
    'tasks.js',
    `import { task } from ${LIB}
// import { FACTOR } from './main.js' (moved to constants.js)
/* import './main.js' */
export const later = () => import('./main.js')
export const scale = task(import.meta.url, (x) => x * 2)
`,
  )
  const r = await runWatched([writeScript(dir, 'main.js', circularMain('await')), dir], dir)
  t.equal(r.code, 0, `exit code 0 (${r.stderr})`)
  t.match(r.stdout, /result 42/)
})

for (const isolation of ['thread', 'process']) {
  t.test(
    `a task module reaching the script in a way the submit cannot see (${isolation}): the script, run again in a worker, may make no executor`,
    async (t) => {
      // "#main" (package imports) is not followed by the submit-time check: the worker's own guard tells
      const dir = t.testdir({ 'package.json': '{ "type": "module", "imports": { "#main": "./main.js" } }' })
      writeScript(dir, 'tasks.js', CIRCULAR_TASKS.replace("'./main.js'", "'#main'"))
      const script = writeScript(dir, 'main.js', circularMain('then', isolation))
      const r = await runWatched([script, dir], dir)
      t.equal(r.signal, null, `ended by itself (${r.stderr})`)
      t.match(r.stderr, /the script being run is running again, in a worker that imports a task's module to run a job/)
      t.notMatch(r.stdout, /result/)
      if (fs.existsSync('/proc/self/status')) t.ok(r.maxThreads < 40, `no threads spawning threads (max ${r.maxThreads})`)
    },
  )
}
