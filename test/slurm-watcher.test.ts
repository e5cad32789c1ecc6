import t from 'tap'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execa } from 'execa'
import { getSharedWatcher, nextDelay, resetSharedWatcher, SlurmWatcher, type SlurmWatcherOptions } from '../dist/lib/slurm/watcher.js'
import { fakeSlurm } from './helpers/fake-slurm.js'
import { distUrl, FAKE_SLURM_BIN, ROOT } from './helpers/paths.js'
import { plainEnv } from './helpers/processes.js'
import { sleep, until } from './helpers/waiting.js'

/** Fast delays so tests take a fraction of a second. */
const FAST: SlurmWatcherOptions = { minDelayMs: 20, maxDelayMs: 200, factor: 1.5, resultCheckMs: 20 }

t.test('nextDelay: fast at first, ×factor schedule from the oldest age, capped', async (t) => {
  t.equal(nextDelay(0), 250)
  t.equal(nextDelay(-5), 250)
  t.equal(nextDelay(1000), 750)
  t.equal(nextDelay(7000), 3750)
  t.equal(nextDelay(3_600_000), 5000, 'capped at 5 s')
  t.equal(nextDelay(1000, { minDelayMs: 500, factor: 2 }), 1500)
  // the schedule it produces: each delay ≈ 1.5 × the previous one
  let age = 0
  let prev = nextDelay(age)
  for (let i = 0; i < 6; i++) {
    age += prev
    const d = nextDelay(age)
    t.ok(Math.abs(d / prev - 1.5) < 1e-9, `step ${i}: ${prev} → ${d}`)
    prev = d
  }
  let last = 0
  for (let a = 0; a < 200_000; a += 777) {
    const d = nextDelay(a)
    t.ok(d >= last, 'never decreases with age')
    last = d
  }
})

t.test('one sacct call per poll for many jobs (arrays collapsed)', async (t) => {
  const f = fakeSlurm(t.testdir())
  const ids = [...Array.from({ length: 20 }, (_, i) => String(100 + i)), ...Array.from({ length: 30 }, (_, i) => `200_${i}`)]
  f.write('sacct.txt', ids.map((id) => `${id}|RUNNING|0:0`).join('\n'))
  const w = new SlurmWatcher({ ...FAST, commands: f.commands })
  t.teardown(() => w.stop())
  const seen: string[] = []
  for (const id of ids) w.register(id, (info, jobId) => seen.push(`${jobId}:${info.state}`))
  // two calls logged by the fake sacct itself (the stats count a call before its process has started)
  await until(() => f.calls().filter((l) => l.startsWith('sacct ')).length >= 2 && ids.every((id) => w.state(id) === 'RUNNING'))
  const all = f.calls() // read once: a poll may be in flight
  const stats = { ...w.stats }
  const sacctCalls = all.filter((l) => l.startsWith('sacct '))
  t.ok(sacctCalls.length >= 2, `polled ${sacctCalls.length} times`)
  t.equal(all.length, sacctCalls.length, 'nothing but sacct')
  t.ok(stats.sacctCalls >= sacctCalls.length && stats.sacctCalls - sacctCalls.length <= 1, 'stats count the sacct calls (one may be starting)')
  t.equal(stats.schedulerCalls, stats.sacctCalls)
  const expectedIds = [...Array.from({ length: 20 }, (_, i) => String(100 + i)), '200'].join('\\,')
  for (const call of sacctCalls) t.equal(call, `sacct -X -n -P -o JobID\\,State\\,ExitCode\\,Reason -j ${expectedIds}`)
  t.equal(w.state('200_7'), 'RUNNING')
  t.equal(w.info('105').source, 'sacct')
  t.equal(seen.length, ids.length, 'one listener call per change')

  f.write('sacct.txt', [...ids.slice(0, 20).map((id) => `${id}|COMPLETED|0:0`), '200_[0-29]|CANCELLED by 0|0:0'].join('\n'))
  const states = await Promise.all(ids.map((id) => w.waitFinal(id)))
  t.same(new Set(states), new Set(['COMPLETED', 'CANCELLED']))
  t.same(w.info('100'), { state: 'COMPLETED', exitCode: 0, signal: 0, source: 'sacct' })
  const after = f.calls('sacct').length
  await sleep(100)
  t.equal(f.calls('sacct').length, after, 'no more polling once everything is final')
})

t.test('a new registration does not reset the backoff to the fastest rate', async (t) => {
  const f = fakeSlurm(t.testdir())
  f.write('sacct.txt', '1|RUNNING|0:0\n2|RUNNING|0:0\n')
  const opts = { minDelayMs: 20, maxDelayMs: 5000, factor: 1.5, resultCheckMs: 10_000, commands: f.commands }
  const w = new SlurmWatcher(opts)
  t.teardown(() => w.stop())
  w.register('1')
  await sleep(2000) // the delay is now ~20 + 2000·0.5 ≈ 1 s
  const before = w.stats.sacctCalls
  w.register('2')
  await sleep(400)
  t.ok(w.stats.sacctCalls - before <= 1, `at most one call in 400 ms after registering (got ${w.stats.sacctCalls - before})`)

  // control (no wall-clock bound: the machine may be loaded): a fresh job alone is polled at the fastest rate
  t.equal(nextDelay(0, opts), 20)
  t.ok(nextDelay(2000, opts) >= 900, 'while the oldest job, 2 s old, sets the pace')
  for (let i = 0; i < 100 && w.state('2') !== 'RUNNING'; i++) await sleep(50)
  t.equal(w.state('2'), 'RUNNING', 'the new job is polled at the old pace')
})

t.test('result-file short cut: no scheduler call for jobs whose result exists', async (t) => {
  const f = fakeSlurm(t.testdir())
  f.write('sacct.txt', '10|RUNNING|0:0\n11|RUNNING|0:0\n12|RUNNING|0:0\n')
  const results = new Set(['10', '11'])
  const asked: string[] = []
  const w = new SlurmWatcher({
    ...FAST,
    commands: f.commands,
    isFinished: (id) => {
      asked.push(id)
      return results.has(id)
    },
  })
  t.teardown(() => w.stop())
  w.register('10')
  w.register('11')
  t.equal(await w.waitFinal('10'), 'COMPLETED')
  t.equal(await w.waitFinal('11'), 'COMPLETED')
  t.same(w.info('10'), { state: 'COMPLETED', reason: 'result file present', source: 'result' })
  t.equal(w.stats.schedulerCalls, 0, 'no scheduler call at all')
  t.equal(f.calls().length, 0)

  // a job without a result is asked about, and only it
  w.register('12', { isFinished: async () => false })
  await until(() => w.state('12') === 'RUNNING')
  t.ok(w.stats.sacctCalls >= 1)
  for (const call of f.calls('sacct')) t.match(call, / -j 12$/)
  t.equal(w.state('12'), 'RUNNING')
  w.unregister('12')
})

t.test('sacct disabled → squeue fallback, sacct not asked again', async (t) => {
  const f = fakeSlurm(t.testdir())
  f.write('sacct.fail', 'sacct: error: Slurm accounting storage is disabled\n')
  f.write('squeue.txt', '30|RUNNING|None\n31_0|RUNNING|None\n31_1|PENDING|JobArrayTaskLimit\n')
  const w = new SlurmWatcher({ ...FAST, commands: f.commands })
  t.teardown(() => w.stop())
  w.register('30')
  w.register('31_0')
  w.register('31_1')
  await until(() => w.state('31_1') !== 'UNKNOWN')
  t.equal(w.state('30'), 'RUNNING')
  t.same(w.info('31_1'), { state: 'PENDING', reason: 'JobArrayTaskLimit', source: 'squeue' })
  t.same(w.info('31_0'), { state: 'RUNNING', source: 'squeue' }, "reason 'None' is dropped")
  f.write('squeue.txt', '30|COMPLETED|None\n31_0|FAILED|NonZeroExitCode\n31_1|COMPLETED|None\n')
  t.equal(await w.waitFinal('30'), 'COMPLETED')
  t.equal(await w.waitFinal('31_0'), 'FAILED')
  t.equal(f.calls('sacct').length, 1, 'sacct asked once only')
  t.ok(f.calls('squeue').length >= 2)
  for (const call of f.calls('squeue')) t.match(call, / -j 30\\,31$/, 'one squeue call for all jobs')
  t.match(String(w.lastError), /accounting storage is disabled/)
})

t.test('a job gone from the queue without a result → FAILED after the grace period', async (t) => {
  const f = fakeSlurm(t.testdir())
  f.write('sacct.fail', 'sacct: error: Slurm accounting storage is disabled\n')
  f.write('squeue.txt', '40|RUNNING|None\n')
  const w = new SlurmWatcher({ ...FAST, commands: f.commands, goneGraceMs: 150 })
  t.teardown(() => w.stop())
  w.register('40')
  w.register('41') // never seen at all
  await until(() => w.state('40') !== 'UNKNOWN')
  t.equal(w.state('40'), 'RUNNING')
  t.equal(w.state('41'), 'UNKNOWN', 'still within the grace period')
  rmSync(join(f.state, 'squeue.txt')) // purged after MinJobAge, no result file
  const started = Date.now()
  t.equal(await w.waitFinal('40'), 'FAILED')
  t.ok(Date.now() - started >= 140, 'not before the grace period')
  t.same(w.info('40'), { state: 'FAILED', reason: 'gone from the queue without a result', source: 'gone' })
  t.equal(await w.waitFinal('41'), 'FAILED')
})

t.test('a job that reappears during the grace period is not failed', async (t) => {
  const f = fakeSlurm(t.testdir())
  f.write('sacct.fail', 'sacct: error: Slurm accounting storage is disabled\n')
  const w = new SlurmWatcher({ ...FAST, commands: f.commands, goneGraceMs: 300 })
  t.teardown(() => w.stop())
  w.register('45')
  await sleep(100)
  f.write('squeue.txt', '45|COMPLETED|None\n')
  t.equal(await w.waitFinal('45'), 'COMPLETED')
})

t.test('sacct works but lags: a job missing from sacct is looked up in squeue', async (t) => {
  const f = fakeSlurm(t.testdir())
  f.write('sacct.txt', '50|RUNNING|0:0\n')
  f.write('squeue.txt', '51|COMPLETED|None\n')
  const w = new SlurmWatcher({ ...FAST, commands: f.commands, sacctAbsentMs: 80, goneGraceMs: 100 })
  t.teardown(() => w.stop())
  w.register('50')
  w.register('51')
  w.register('52')
  await sleep(50)
  t.equal(f.calls('squeue').length, 0, 'squeue not asked while sacct may just be lagging')
  t.equal(await w.waitFinal('51'), 'COMPLETED')
  t.equal(w.info('51').source, 'squeue')
  t.equal(await w.waitFinal('52'), 'FAILED', 'in neither: gone')
  for (const call of f.calls('squeue')) t.notMatch(call, /50/, 'jobs sacct knows are not asked of squeue')
  t.equal(w.state('50'), 'RUNNING')
})

t.test('array tasks that never started: the compact row (or bare array id) gives their state', async (t) => {
  const f = fakeSlurm(t.testdir())
  f.write('sacct.txt', '60_0|COMPLETED|0:0\n60_1|RUNNING|0:0\n60_[2-5%2]|PENDING|0:0\n61|CANCELLED by 0|0:0\n')
  const w = new SlurmWatcher({ ...FAST, commands: f.commands })
  t.teardown(() => w.stop())
  for (const id of ['60_0', '60_1', '60_2', '60_5', '61_0', '61_3']) w.register(id)
  t.equal(await w.waitFinal('60_0'), 'COMPLETED')
  t.equal(w.state('60_1'), 'RUNNING')
  t.same(w.info('60_5'), { state: 'PENDING', source: 'sacct' }, 'no exit code before the end (sacct prints 0:0)')
  t.equal(await w.waitFinal('61_3'), 'CANCELLED', "an array cancelled before any task started shows as its bare id '61'")
  f.write('sacct.txt', '60_0|COMPLETED|0:0\n60_1|COMPLETED|0:0\n60_2|COMPLETED|0:0\n60_[3-5%2]|CANCELLED by 0|0:0\n')
  t.equal(await w.waitFinal('60_2'), 'COMPLETED')
  t.equal(await w.waitFinal('60_5'), 'CANCELLED')
})

t.test('register validates ids; stop rejects waiters; shared watcher is one object', async (t) => {
  const w = new SlurmWatcher(FAST)
  t.throws(() => w.register('12abc'), /Not a Slurm job id/)
  t.throws(() => w.register('12_[1-3]'), /Not a Slurm job id/)
  const f = fakeSlurm(t.testdir())
  const w2 = new SlurmWatcher({ ...FAST, commands: f.commands })
  const p = w2.waitFinal('70')
  w2.stop()
  await t.rejects(p, /stopped/)
  t.equal(getSharedWatcher(), getSharedWatcher())
  resetSharedWatcher()
})

t.test('timers: listeners alone let the process exit, a pending waitFinal keeps it alive', async (t) => {
  const f = fakeSlurm(t.testdir())
  f.write('sacct.txt', '80|RUNNING|0:0\n')
  const child = join(f.state, 'child.mjs')
  const watcherUrl = distUrl('lib/slurm/watcher.js')
  writeFileSync(
    child,
    `import { getSharedWatcher } from ${JSON.stringify(watcherUrl)};
const w = getSharedWatcher({ minDelayMs: 20, maxDelayMs: 50, resultCheckMs: 20, commands: { binDir: ${JSON.stringify(FAKE_SLURM_BIN)} } });
const mode = process.argv[2];
w.register('80', (info) => console.log('state', info.state));
if (mode === 'wait') w.waitFinal('80').then((s) => console.log('final', s));
`,
  )
  const env = plainEnv({ FAKE_SLURM_DIR: f.state })
  const listen = await execa(process.execPath, [child, 'listen'], { env, cwd: ROOT, timeout: 10_000 })
  t.equal(listen.exitCode, 0, 'exits by itself although job 80 is still RUNNING')

  const waiting = execa(process.execPath, [child, 'wait'], { env, cwd: ROOT, timeout: 10_000 })
  let exited = false
  void waiting.finally(() => (exited = true)).catch(() => {})
  // wait until the child has seen RUNNING (its start-up time varies with the load), then a bit more
  let seen = ''
  waiting.stdout!.on('data', (d: Buffer) => (seen += String(d)))
  for (let i = 0; i < 200 && !seen.includes('state RUNNING'); i++) await sleep(50)
  await sleep(500)
  t.equal(exited, false, 'still alive while waitFinal is pending')
  f.write('sacct.txt', '80|COMPLETED|0:0\n')
  const r = await waiting
  t.match(r.stdout, /state RUNNING[\s\S]*final COMPLETED/)
})

t.test('a poll asks only the jobs not settled: finished ones are never asked again, later ones are, a claimed id afresh', async (t) => {
  const f = fakeSlurm(t.testdir())
  f.write('sacct.txt', '')
  const w = new SlurmWatcher({ ...FAST, commands: f.commands })
  t.teardown(() => w.stop())
  const asked = new Map<string, number>()
  const done = new Set<string>()
  const hook = (id: string) => () => {
    asked.set(id, (asked.get(id) ?? 0) + 1)
    return done.has(id)
  }
  const first = Array.from({ length: 2000 }, (_, i) => `300_${i}`)
  for (const id of first) {
    done.add(id)
    w.register(id, { isFinished: hook(id) })
  }
  await Promise.all(first.map((id) => w.waitFinal(id)))
  t.ok(
    first.every((id) => w.state(id) === 'COMPLETED'),
    'the 2,000 end by their result files',
  )
  const askedThen = new Map(asked)
  w.register('301', { isFinished: hook('301') })
  const later = w.waitFinal('301')
  await until(() => (asked.get('301') ?? 0) >= 3)
  t.ok(
    first.every((id) => asked.get(id) === askedThen.get(id)),
    'no finished job is asked again',
  )
  t.equal(w.state('300_5'), 'COMPLETED', 'a finished job still answers')
  done.add('301')
  t.equal(await later, 'COMPLETED', 'a job registered after them is polled until it ends')
  // a newer job given a finished job's id (Slurm reuses ids): watched afresh, and polled
  w.claim('300_7', 'newer-nonce')
  done.delete('300_7')
  w.register('300_7', { isFinished: hook('300_7') })
  const newer = w.waitFinal('300_7')
  const before = asked.get('300_7')!
  await until(() => asked.get('300_7')! >= before + 2)
  t.not(w.state('300_7'), 'COMPLETED', 'the newer job is not the finished one')
  done.add('300_7')
  t.equal(await newer, 'COMPLETED')
})
