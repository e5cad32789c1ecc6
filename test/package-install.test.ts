// The package as a user gets it: `npm pack` from a copy of the sources without dist (a fresh clone:
// prepack must build it), installed with tsx and TypeScript into a new project outside this one, and
// the README's quick start run the natural ways: `npx tsx main.ts` (.ts task modules in the pool
// threads), type-checked with tsc, and as JavaScript with `node main.js`. Needs npm and its cache
// (filled by `npm ci`) or the registry; it never skips: without them it fails, saying why.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import ts from 'typescript'
import { ROOT } from './helpers/paths.js'
import { plainEnv, type RunResult, runProcess } from './helpers/processes.js'

// a build, an install and four programs: ~1 min, more on a loaded machine
t.setTimeout(20 * 60_000)

/** The environment of a plain shell: no tap loaders, no variables of an enclosing `npm test`. */
function userEnv(): NodeJS.ProcessEnv {
  const env = plainEnv()
  for (const k of Object.keys(env)) {
    if (/^npm_(package_|lifecycle_|command$|config_(local_prefix|prefix|global_prefix|call|yes)$)|^INIT_CWD$/.test(k)) delete env[k]
  }
  return env
}

/** Runs a command to its end (killed after timeoutMs) in a plain shell's environment. */
const run = (cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<RunResult> => runProcess(cmd, args, { cwd, env: userEnv(), timeoutMs })

const tail = (s: string, n = 4000) => (s.length > n ? `...${s.slice(-n)}` : s)
/** What a failed step shows: the child's exit and the end of its output. */
const details = (r: RunResult) => ({ exit: r.code, killed: r.signal, ms: r.ms, stdout: tail(r.stdout), stderr: tail(r.stderr) })

/** The README's quick start, split into its two files. */
function quickStart(): { tasks: string; main: string } {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  const m = /## Quick start\s+```ts\n([\s\S]*?)```/.exec(readme)
  const at = m?.[1].indexOf('// main.ts') ?? -1
  if (!m || at < 0) throw new Error('README.md has no "## Quick start" ts block with a "// main.ts" part')
  return { tasks: m[1].slice(0, at), main: m[1].slice(at) }
}

/** The sources a build needs, as a fresh clone has them (no dist), with this checkout's node_modules. */
function copySources(dest: string): void {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { files?: string[] }
  const tsconfig = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), ts.sys.readFile).config as { include?: string[] }
  const entries = new Set(['package.json', 'package-lock.json', 'tsconfig.json', 'README.md', 'LICENSE', ...(tsconfig.include ?? []), ...(pkg.files ?? [])])
  for (const e of entries) {
    const top = e.split('/')[0]
    if (top === 'dist' || !fs.existsSync(path.join(ROOT, top))) continue
    fs.cpSync(path.join(ROOT, top), path.join(dest, top), { recursive: true })
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dest, 'node_modules'), 'dir')
}

/** The TypeScript sources, without their types, as `<name>.js` files in a new folder `dir` (returned). */
function writeJavaScript(dir: string, sources: Record<string, string>): string {
  fs.mkdirSync(dir)
  for (const [name, source] of Object.entries(sources)) {
    const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText
    fs.writeFileSync(path.join(dir, `${name}.js`), js)
  }
  return dir
}

const OUTPUT = [/^\S+ \{ loss: 0\.001 \}$/, /^\S+_0 [A-Z]+ \{ loss: 0\.01\d* \}$/, /^\S+_1 [A-Z]+ \{ loss: 0\.001 \}$/]

t.test('npm pack, npm install into a new project, the README quick start with tsx and with node', async (t) => {
  // outside this checkout, so that nothing resolves to its node_modules by walking up
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'submitit-ts-package-'))
  t.teardown(() => {
    if (t.passing()) fs.rmSync(tmp, { recursive: true, force: true })
    else console.error(`# kept ${tmp} to look at`)
  })
  const src = path.join(tmp, 'src')
  const app = path.join(tmp, 'app')
  fs.mkdirSync(src)
  copySources(src)

  const pack = await run('npm', ['pack', '--pack-destination', tmp], src, 10 * 60_000)
  if (!t.equal(pack.code, 0, 'npm pack (prepack builds dist)', details(pack))) return
  const tarball = fs.readdirSync(tmp).find((f) => f.endsWith('.tgz'))
  if (!t.ok(tarball, `npm pack wrote a tarball (${fs.readdirSync(tmp).join(', ')})`)) return
  const list = await run('tar', ['-tzf', path.join(tmp, tarball!)], tmp, 60_000)
  const files = list.stdout.split('\n')
  for (const f of ['dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/task.js', 'dist/lib/task.d.ts', 'dist/worker/pool.js', 'dist/worker/main.js']) {
    t.ok(files.includes(`package/${f}`), `the tarball has ${f}`, details(list))
  }

  fs.mkdirSync(app)
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }, null, 2))
  const install = await run(
    'npm',
    ['install', path.join(tmp, tarball!), 'tsx', 'typescript@5.9', '@types/node@20', '--no-audit', '--no-fund', '--prefer-offline'],
    app,
    10 * 60_000,
  )
  if (!t.equal(install.code, 0, 'npm install (from the npm cache that `npm ci` filled, or the registry)', details(install))) return

  const { tasks, main } = quickStart()
  const tsDir = path.join(app, 'ts')
  fs.mkdirSync(tsDir)
  fs.writeFileSync(path.join(tsDir, 'tasks.ts'), tasks)
  fs.writeFileSync(path.join(tsDir, 'main.ts'), main)
  const checkOutput = (what: string, r: RunResult) => {
    if (!t.equal(r.code, 0, `${what}: exit code 0`, details(r))) return
    const lines = r.stdout.trim().split('\n')
    OUTPUT.forEach((re, i) => t.match(lines[i], re, `${what}: line ${i + 1} of the results`, details(r)))
  }
  checkOutput('npx tsx main.ts', await run('npx', ['tsx', 'main.ts'], tsDir, 3 * 60_000))

  // its types, as the README says: results typed, arguments checked
  fs.writeFileSync(
    path.join(tsDir, 'check.ts'),
    `import { LocalExecutor } from 'submitit-ts'
import { train } from './tasks.js'
const ex = new LocalExecutor({ folder: 'logs/%j' })
const loss: number = (await (await ex.submit(train, 0.1, 1)).result()).loss
// @ts-expect-error an argument of the wrong type
await ex.submit(train, 'fast', 1)
// @ts-expect-error a missing argument
await ex.submit(train, 0.1)
// @ts-expect-error the result has no such field
;(await (await ex.submit(train, 0.1, 1)).result()).accuracy
export { loss }
`,
  )
  fs.writeFileSync(
    path.join(app, 'tsconfig.json'),
    JSON.stringify(
      {
        compilerOptions: { module: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] },
        include: ['ts/*.ts'],
      },
      null,
      2,
    ),
  )
  const tsc = await run('npx', ['tsc', '-p', '.'], app, 3 * 60_000)
  t.equal(tsc.code, 0, 'tsc on the quick start and its type checks', details(tsc))

  // the JavaScript version: the same files without their types, run by a plain node
  const jsDir = writeJavaScript(path.join(app, 'js'), { tasks, main })
  checkOutput('node main.js', await run(process.execPath, ['main.js'], jsDir, 3 * 60_000))

  // a task module importing the light entry, submitit-ts/task: the same task, the same results
  const light = tasks.replace("from 'submitit-ts'", "from 'submitit-ts/task'")
  t.not(light, tasks, "the quick start's task module imports submitit-ts")
  const lightDir = writeJavaScript(path.join(app, 'light'), { tasks: light, main })
  checkOutput("node main.js, tasks from 'submitit-ts/task'", await run(process.execPath, ['main.js'], lightDir, 3 * 60_000))
})
