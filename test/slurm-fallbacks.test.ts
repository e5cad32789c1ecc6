// What Slurm prints when it is not the textbook case (issue 10): an sbatch that answers "Submitted
// batch job N" (a site's wrapper that drops --parsable); a job sacct shows with a blank state or not
// at all reads UNKNOWN, saying why, until squeue or its result decides, and never for ever.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { SlurmExecutor, WaitTimeoutError } from '../dist/lib/index.js'
import { parseSbatchOutput, sbatch } from '../dist/lib/slurm/commands.js'
import { parseSacct } from '../dist/lib/slurm/parse.js'
import { SlurmWatcher, type SlurmWatcherOptions } from '../dist/lib/slurm/watcher.js'
import { add } from '../dist/fixtures/tasks.js'
import { fakeSlurm } from './helpers/fake-slurm.js'
import { ROOT } from './helpers/paths.js'
import { until } from './helpers/waiting.js'

const fakeBin = path.join(ROOT, 'fixtures', 'fake-slurm')

function fake(t: { teardown: (fn: () => void) => void }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-slurm-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const commands = { binDir: fakeBin, env: { ...process.env, FAKE_SLURM_DIR: dir } }
  const write = (name: string, text: string) => fs.writeFileSync(path.join(dir, name), text)
  const calls = (cmd: string) => {
    const file = path.join(dir, 'calls.log')
    return fs.existsSync(file)
      ? fs
          .readFileSync(file, 'utf8')
          .split('\n')
          .filter((l) => l.startsWith(`${cmd} `))
      : []
  }
  return { dir, commands, write, calls }
}

/** An sbatch wrapper as some sites have: drops --parsable, prints a banner, then the plain answer. */
function wrapper(dir: string): string {
  const file = path.join(dir, 'sbatch-wrapper')
  fs.writeFileSync(
    file,
    `#!/usr/bin/env bash\necho "Welcome to the cluster. Quota: 87% used."\nargs=()\nfor a in "$@"; do [[ "$a" == --parsable ]] || args+=("$a"); done\nexec ${JSON.stringify(path.join(fakeBin, 'sbatch'))} "\${args[@]}"\n`,
    { mode: 0o755 },
  )
  return file
}

const FAST: SlurmWatcherOptions = { minDelayMs: 20, maxDelayMs: 100, factor: 1.5, resultCheckMs: 20 }

t.test('parseSbatchOutput: --parsable or "Submitted batch job N", after any banner', async (t) => {
  t.equal(parseSbatchOutput('123\n'), '123')
  t.equal(parseSbatchOutput('123;cluster1\n'), '123')
  t.equal(parseSbatchOutput('Submitted batch job 4567\n'), '4567')
  t.equal(parseSbatchOutput('sbatch: warning: no --time given\r\nSubmitted batch job 77 on cluster gpu\r\n'), '77', 'a warning before, CRLF, a cluster after')
  t.equal(parseSbatchOutput('Welcome!\n  Submitted batch job 9  \n\n'), '9')
  for (const bad of ['', '\n', 'Submitted batch job', 'Submitted batch job abc', 'job 12 submitted', '12 13', 'Submitted batch job 12 and more', '-5']) {
    t.equal(parseSbatchOutput(bad), undefined, JSON.stringify(bad))
  }
})

t.test('an sbatch wrapper that prints "Submitted batch job N" is understood, by the command and the executor', async (t) => {
  const f = fake(t)
  const bin = { sbatch: wrapper(f.dir) }
  const script = path.join(f.dir, 'job.sh')
  fs.writeFileSync(script, '#!/bin/bash\necho hi\n')
  t.equal(await sbatch(script, [], undefined, { ...f.commands, bin }), '1000')
  t.notMatch(fs.readFileSync(path.join(f.dir, 'jobs', '1000.args'), 'utf8'), /--parsable/, 'the wrapper did drop --parsable')

  const folder = t.testdir()
  const ex = new SlurmExecutor({ folder, commands: { ...f.commands, bin }, maxArraySize: 100 })
  t.teardown(() => ex.shutdown())
  const job = await ex.submit(add, 1, 2)
  t.equal(job.jobId, '1001')
  t.ok(fs.existsSync(path.join(folder, '1001_submitted.v8')), 'its submission written under the id the wrapper printed')
  const jobs = await ex.mapArray(add, [1, 2], [3, 4])
  t.same(
    jobs.map((j) => j.jobId),
    ['1002_0', '1002_1'],
  )
})

t.test('parseSacct: a blank or unheard-of state is UNKNOWN, never PENDING', async (t) => {
  const rows = parseSacct('50||0:0|\n51|   |0:0|\n52|BOOT_FAIL_NEW|0:0|\n53|PENDING|0:0|None\n')
  t.match(rows.get('50'), { state: 'UNKNOWN', rawState: '' })
  t.match(rows.get('51'), { state: 'UNKNOWN', rawState: '' })
  t.match(rows.get('52'), { state: 'UNKNOWN', rawState: 'BOOT_FAIL_NEW' })
  t.equal(rows.get('53')?.state, 'PENDING')
})

t.test('a job sacct shows with a blank state: UNKNOWN (not PENDING), then squeue decides', async (t) => {
  const f = fake(t)
  f.write('sacct.txt', '50||0:0|\n')
  const w = new SlurmWatcher({ ...FAST, commands: f.commands, sacctAbsentMs: 200, goneGraceMs: 60_000 })
  t.teardown(() => w.stop())
  w.register('50')
  await until(() => f.calls('sacct').length >= 1 && w.info('50').reason !== undefined, 10_000, 'a first answer')
  t.equal(w.state('50'), 'UNKNOWN')
  t.equal(w.info('50').reason, 'sacct shows it without a state yet')
  f.write('squeue.txt', '50|RUNNING|None\n')
  await until(() => w.state('50') === 'RUNNING', 10_000, 'squeue asked once sacct has been blank for sacctAbsentMs')
  t.equal(w.info('50').source, 'squeue')
  f.write('sacct.txt', '50|COMPLETED|0:0|None\n')
  t.equal(await w.waitFinal('50'), 'COMPLETED', 'and sacct again once it has a state')
})

t.test('blank in sacct and unknown to squeue: UNKNOWN saying why, then FAILED after the grace, never for ever', async (t) => {
  const f = fake(t)
  f.write('sacct.txt', '51||0:0|\n52||0:0|\n')
  const w = new SlurmWatcher({ ...FAST, commands: f.commands, sacctAbsentMs: 0, goneGraceMs: 400 })
  t.teardown(() => w.stop())
  let hasResult = false
  w.register('51')
  w.register('52', { isFinished: () => hasResult })
  await until(() => /squeue does not know it/.test(w.info('51').reason ?? ''), 10_000, 'squeue asked')
  t.equal(w.state('51'), 'UNKNOWN')
  t.match(w.info('51').reason, /^sacct shows it without a state and squeue does not know it; waiting up to 1 s for its result/)
  hasResult = true // 52 wrote its result meanwhile
  t.equal(await w.waitFinal('51'), 'FAILED')
  t.match(w.info('51'), {
    state: 'FAILED',
    source: 'gone',
    reason: /sacct shows it without a state and squeue does not know it for 1 s, and it wrote no result/,
  })
  t.equal(await w.waitFinal('52'), 'COMPLETED', 'a result decides it')
})

t.test('the scheduler not answering at all: UNKNOWN with the error, not PENDING', async (t) => {
  const f = fake(t)
  f.write('sacct.fail', 'sacct: error: slurm_persist_conn_open_without_init: failed to open persistent connection\n')
  f.write('squeue.fail', 'squeue: error: Unable to contact slurm controller (connect failure)\n')
  const w = new SlurmWatcher({ ...FAST, commands: f.commands })
  t.teardown(() => w.stop())
  w.register('53')
  await until(() => w.info('53').reason !== undefined, 10_000, 'a first poll')
  t.equal(w.state('53'), 'UNKNOWN')
  t.match(w.info('53').reason, /the scheduler did not answer \(sacct and squeue failed: .*squeue failed \(exit code 1\): .*Unable to contact slurm controller/)
  fs.rmSync(path.join(f.dir, 'sacct.fail'))
  fs.rmSync(path.join(f.dir, 'squeue.fail'))
  f.write('sacct.txt', '53|RUNNING|0:0|None\n')
  await until(() => w.state('53') === 'RUNNING', 10_000, 'back')
  t.equal(w.info('53').reason, undefined)
})

t.test('a submitted job: PENDING until asked, then UNKNOWN while sacct lags, with job.reason', async (t) => {
  const f = fake(t)
  const folder = t.testdir()
  const ex = new SlurmExecutor({ folder, commands: f.commands, maxArraySize: 100, maxPollIntervalMs: 100 })
  t.teardown(() => ex.shutdown())
  const job = await ex.submit(add, 1, 2)
  t.equal(job.state, 'PENDING', 'just submitted, nothing asked yet: queued')
  await until(() => f.calls('sacct').length >= 1 && job.state !== 'PENDING', 15_000, 'sacct asked')
  t.equal(job.state, 'UNKNOWN', 'sacct does not show it yet: not PENDING')
  t.match(job.reason, /not in sacct yet/)
  f.write('sacct.txt', `${job.jobId}|RUNNING|0:0|None\n`)
  await until(() => job.state === 'RUNNING', 15_000, 'sacct shows it')
  t.equal(job.reason, undefined)
})

t.test('the controller down (or restarting) while jobs pend: their reason says what is known is old; back, it is fresh again', async (t) => {
  const dir = t.testdir()
  const f = fakeSlurm(dir)
  const ex = new SlurmExecutor({ folder: path.join(dir, 'logs'), commands: f.commands, maxPollIntervalMs: 200 })
  const [pending, running] = await ex.mapArray(add, [1, 2], [1, 2])
  f.write('sacct.txt', '1000_0|PENDING|0:0|Resources\n1000_1|RUNNING|0:0|None\n')
  f.write('squeue.txt', '1000_0|PENDING|Resources\n1000_1|RUNNING|None\n')
  await until(() => pending.reason === 'Resources' && running.state === 'RUNNING', 20_000, `seen: ${pending.state} ${pending.reason} ${running.state}`)
  // slurmctld is killed: squeue fails, sacct (slurmdbd) still answers from the database
  f.write('squeue.fail', 'squeue: error: Unable to contact slurm controller (connect failure)\n')
  const stale = /^Resources; as last seen: the controller does not answer \(squeue: squeue: error: Unable to contact slurm controller \(connect failure\)\)$/
  await until(() => stale.test(pending.reason ?? ''), 20_000, `the pending reason says so: ${pending.reason}`)
  t.equal(pending.state, 'PENDING')
  t.equal(String(pending), `Job<1000_0, PENDING (${pending.reason})>`)
  t.equal(running.reason, undefined, 'a running job runs on without the controller: nothing to say')
  const e = await pending.wait({ timeoutMs: 1500 }).catch((err: Error) => err)
  t.type(e, WaitTimeoutError)
  t.match(e?.message, /PENDING \(Resources; as last seen: the controller does not answer/, 'a bounded wait says why')
  // slurmdbd too: nothing answers
  f.write('sacct.fail', 'sacct: error: slurm_persist_conn_open_without_init: failed to open persistent connection to host:127.0.0.1:6819: Connection refused\n')
  await until(() => /scheduler does not answer \(sacct: .*Connection refused; squeue: .*connect failure\)/.test(running.reason ?? ''), 20_000, 'all down')
  t.equal(running.state, 'RUNNING', 'the last state seen is kept')
  t.match(pending.reason, /^Resources; as last seen: the scheduler does not answer/)
  // back: fresh answers, no note
  fs.rmSync(path.join(f.state, 'sacct.fail'))
  fs.rmSync(path.join(f.state, 'squeue.fail'))
  f.write('squeue.txt', '1000_0|PENDING|Priority\n1000_1|RUNNING|None\n')
  await until(() => pending.reason === 'Priority' && running.reason === undefined, 20_000, `fresh again: ${pending.reason} / ${running.reason}`)
  await ex.shutdown()
})
