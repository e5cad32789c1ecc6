// watch and cancel from another shell: a line at once and one per interval off a terminal, the rate
// of what ended while watched (not of what was done before), Slurm's pending reasons, Ctrl-C ending
// the bar on its own line and the command at once (a Slurm poller must not keep it alive), a bar
// redrawn in place on a terminal; cancel of a Slurm array in one scancel.
import { spawn, spawnSync } from 'node:child_process'
import path from 'node:path'
import t from 'tap'
import { LocalExecutor } from '../dist/lib/index.js'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { add, sleepMs } from '../dist/fixtures/tasks.js'
import { fakeSlurm } from './helpers/fake-slurm.js'
import { CLI, FAKE_SLURM_BIN } from './helpers/paths.js'
import { until } from './helpers/waiting.js'

const run = (args: string[], env: NodeJS.ProcessEnv = process.env) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, env })

t.test('watch of a finished array: its jobs ended before, so no rate and no ETA made of them', async (t) => {
  const folder = `${t.testdir()}/%j`
  const ex = new LocalExecutor({ folder, maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  const jobs = await ex.mapArray(sleepMs, [1, 1, 1], [1, 2, 3])
  await Promise.all(jobs.map((j) => j.wait()))
  const w = run(['watch', folder, jobs[0].paths.arrayId])
  t.equal(w.status, 0, w.stderr)
  t.equal(w.stdout.trim().split('\n').length, 2, 'a line at the start, one at the end')
  t.match(w.stdout, /^3\/3 jobs done \(3 completed\), 0 running, 0 pending, 0\.0\/s, in \d+s\n/)
  const one = run(['watch', folder, jobs[1].jobId])
  t.match(one.stdout, /1\/1 jobs done \(1 completed\)/, 'one element of the array')
})

t.test('watch follows a running array to its end, off a terminal', async (t) => {
  const folder = `${t.testdir()}/%j`
  const ex = new LocalExecutor({ folder, maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  const jobs = await ex.mapArray(sleepMs, [300, 300, 300, 300, 300, 300], [1, 2, 3, 4, 5, 6])
  const child = spawn(process.execPath, [CLI, 'watch', folder, jobs[0].paths.arrayId, '--interval', '0.2'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  const code = await new Promise((r) => child.on('close', r))
  t.equal(code, 0)
  const lines = out.trim().split('\n')
  t.ok(lines.length >= 2, 'a line per interval')
  t.match(lines.at(-1), /^6\/6 jobs done \(6 completed\), 0 running, 0 pending, [\d.]+\/s, in \d+s$/)
})

t.test('Slurm (fake commands): pending reasons, Ctrl-C, cancel in one scancel', async (t) => {
  const dir = t.testdir()
  const slurm = fakeSlurm(dir)
  const folder = path.join(dir, 'logs', '%j')
  const ex = new SlurmExecutor({ folder, commands: slurm.commands })
  t.teardown(() => ex.shutdown())
  const jobs = await ex.mapArray(add, [1, 2, 3, 4], [1, 1, 1, 1])
  const arrayId = jobs[0].paths.arrayId
  slurm.write('sacct.txt', '')
  slurm.write('squeue.txt', `${arrayId}_0|RUNNING|None\n${arrayId}_1|PENDING|Resources\n${arrayId}_2|PENDING|Resources\n${arrayId}_3|PENDING|Priority\n`)
  const env = { ...slurm.env, PATH: `${FAKE_SLURM_BIN}${path.delimiter}${process.env.PATH}` }

  const status = run(['status', folder, arrayId], env)
  t.equal(status.status, 0, status.stderr)
  t.match(status.stdout, new RegExp(`${arrayId}_1\tPENDING \\(Resources\\)`))

  const child = spawn(process.execPath, [CLI, 'watch', folder, arrayId, '--interval', '0.2'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  const closed = new Promise<number | null>((r) => child.on('close', r))
  await until(() => /pending/.test(out), 60_000, 'a first line')
  t.match(out, /^0\/4 jobs done, 1 running, 3 pending \(Resources: 2, Priority: 1\), 0\.0\/s, ETA \?\n/, 'why they wait')
  child.kill('SIGINT')
  t.equal(await closed, 130, 'Ctrl-C ends it at once, exit 130, though its Slurm poller still follows the jobs')
  t.match(err, /interrupted: the jobs go on/)

  const cancel = spawn(process.execPath, [CLI, 'cancel', folder, arrayId], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let cancelOut = ''
  cancel.stdout.on('data', (d) => (cancelOut += d))
  const cancelled = new Promise<number | null>((r) => cancel.on('close', r))
  await until(() => slurm.cancelled().length === 4, 60_000, 'scancel')
  // the scheduler takes note; the command waits until it says so
  slurm.write('squeue.txt', '')
  slurm.write('sacct.txt', [0, 1, 2, 3].map((i) => `${arrayId}_${i}|CANCELLED by 0|0:0`).join('\n'))
  t.equal(await cancelled, 0)
  t.equal(slurm.calls('scancel').length, 1, `one scancel for the array: ${slurm.calls('scancel').join('; ')}`)
  t.same(
    slurm.cancelled().sort(),
    [0, 1, 2, 3].map((i) => `${arrayId}_${i}`),
  )
  t.equal(cancelOut, [0, 1, 2, 3].map((i) => `${arrayId}_${i}\tCANCELLED\n`).join(''))
})

const script = spawnSync('sh', ['-c', 'command -v script']).status === 0
t.test(
  'watch on a terminal: the bar redrawn in place, the last one on its own line',
  { skip: script ? false : 'no `script` command to make a terminal' },
  async (t) => {
    const folder = `${t.testdir()}/%j`
    const ex = new LocalExecutor({ folder, maxWorkers: 2 })
    t.teardown(() => ex.shutdown())
    const jobs = await ex.mapArray(sleepMs, [200, 200, 200, 200], [1, 2, 3, 4])
    const line = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} watch '${folder}' ${jobs[0].paths.arrayId}`
    // spawned, not spawnSync: the jobs run in this process
    const child = spawn('script', ['-qfec', line, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    t.equal(await new Promise((r) => child.on('close', r)), 0)
    t.match(out, /\r\x1b\[K\[[#-]{10,30}\] \d\/4 jobs done/, 'redrawn in place')
    t.match(out, /\r\x1b\[K\[#+\] 4\/4 jobs done \(4 completed\)[^\r\n]*\r?\n/, 'the last bar full, then a new line')
  },
)
