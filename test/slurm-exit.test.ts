// cancelAtExit on signals, ids past the end of an array, the poll interval: against the fake Slurm
// commands, with real child processes and real signals. The real cluster: slurm-integration-exit.
import { spawn } from 'node:child_process'
import path from 'node:path'
import t from 'tap'
import { attachJob, ParameterError } from '../dist/lib/index.js'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { getSharedWatcher, resetSharedWatcher, SlurmWatcher } from '../dist/lib/slurm/watcher.js'
import { square } from '../dist/fixtures/tasks.js'
import { type FakeSlurm, fakeSlurm } from './helpers/fake-slurm.js'
import { distUrl, FAKE_SLURM_BIN, ROOT } from './helpers/paths.js'
import { plainEnv } from './helpers/processes.js'

/** Runs a script that submits a job with cancelAtExit and waits for it; resolves once it printed 'ready'. */
function submitter(f: FakeSlurm, folder: string, ownHandler: string) {
  const script = `
    import { SlurmExecutor } from ${JSON.stringify(distUrl('lib/index.js'))}
    import { square } from ${JSON.stringify(distUrl('fixtures/tasks.js'))}
    ${ownHandler}
    const ex = new SlurmExecutor({ folder: process.argv[1], cancelAtExit: true, commands: { binDir: ${JSON.stringify(FAKE_SLURM_BIN)} } })
    const jobs = await ex.mapArray(square, [1, 2])
    const single = await ex.submit(square, 3)
    console.log('ready')
    await Promise.all([...jobs, single].map((j) => j.result()))`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, folder], {
    env: plainEnv(f.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => {
    stderr += String(d)
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  const ready = new Promise<void>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += String(d)
      if (out.includes('ready')) resolve()
    })
    child.on('exit', () => reject(new Error(`exited before it was ready: ${stderr}`)))
  })
  return { child, ready, exited, stderr: () => stderr }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  t.test(`cancelAtExit: ${signal} cancels the unfinished jobs, and the process still dies of ${signal}`, async (t) => {
    const dir = t.testdir()
    const f = fakeSlurm(dir)
    const p = submitter(f, path.join(dir, 'logs'), '')
    await p.ready
    p.child.kill(signal)
    const { code, signal: got } = await p.exited
    t.equal(got, signal, `killed by ${signal} (a shell shows ${signal === 'SIGINT' ? 130 : 143}) ${p.stderr()}`)
    t.equal(code, null)
    t.same(f.cancelled().sort(), ['1000_0', '1000_1', '1001'], 'every unfinished job scancelled')
  })
}

t.test('cancelAtExit alongside signal-exit (execa, test runners): the process still dies of SIGINT', async (t) => {
  const dir = t.testdir()
  const f = fakeSlurm(dir)
  const signalExit = path.join(ROOT, 'node_modules', 'signal-exit', 'dist', 'mjs', 'index.js')
  const p = submitter(
    f,
    path.join(dir, 'logs'),
    `import { onExit } from ${JSON.stringify(signalExit)}
    onExit((code, signal) => { process.stderr.write('signal-exit saw ' + signal + '\\n') })`,
  )
  await p.ready
  p.child.kill('SIGINT')
  const { signal } = await p.exited
  t.equal(signal, 'SIGINT', p.stderr())
  t.match(p.stderr(), /signal-exit saw SIGINT/, 'its handler ran too')
  t.same(f.cancelled().sort(), ['1000_0', '1000_1', '1001'])
})

t.test("cancelAtExit with a SIGINT handler of the user's: jobs cancelled, the user's handler decides", async (t) => {
  const dir = t.testdir()
  const f = fakeSlurm(dir)
  const p = submitter(f, path.join(dir, 'logs'), `process.on('SIGINT', () => { console.error('user handler'); process.exit(3) })`)
  await p.ready
  p.child.kill('SIGINT')
  const { code } = await p.exited
  t.equal(code, 3, p.stderr())
  t.match(p.stderr(), /user handler/)
  t.same(f.cancelled().sort(), ['1000_0', '1000_1', '1001'])
})

t.test('an element past the end of an array does not exist: said at once, never waited on', async (t) => {
  const f = fakeSlurm(t.testdir())
  const folder = path.join(t.testdir(), 'logs')
  await new SlurmExecutor({ folder, commands: f.commands }).mapArray(
    square,
    Array.from({ length: 10 }, (_, i) => i),
  )
  await new SlurmExecutor({ folder, commands: f.commands }).submit(square, 2)
  const ghost = attachJob(folder, '1000_999')
  t.equal(ghost.state, 'UNKNOWN')
  t.equal(ghost.reason, 'job 1000_999 does not exist: array 1000 has elements 1000_0..1000_9')
  await t.rejects(ghost.result(), { name: 'RangeError', message: /1000_999 does not exist: array 1000 has elements 1000_0\.\.1000_9/ })
  await t.rejects(ghost.wait(), RangeError)
  await t.rejects(attachJob(folder, '1001_0').wait(), /1001 is a single job, not an array/)
  await t.rejects(attachJob(folder, '1000').wait(), /1000 does not exist: array 1000 has elements/)
  t.equal(attachJob(folder, '1000_9').state, 'PENDING', 'the last element is fine')
})

t.test('the poll interval: capped at 5 s by default; maxPollIntervalMs lowers it for the shared watcher, never raises it', async (t) => {
  t.teardown(resetSharedWatcher)
  resetSharedWatcher()
  t.equal(new SlurmWatcher().maxDelayMs, 5000)
  new SlurmExecutor({ folder: path.join(t.testdir(), 'a'), maxPollIntervalMs: 2000 })
  t.equal(getSharedWatcher().maxDelayMs, 2000)
  new SlurmExecutor({ folder: path.join(t.testdir(), 'b'), maxPollIntervalMs: 8000 })
  t.equal(getSharedWatcher().maxDelayMs, 2000, 'the shortest asked wins')
  t.throws(() => new SlurmExecutor({ folder: path.join(t.testdir(), 'c'), maxPollIntervalMs: 0 }), ParameterError)
})
