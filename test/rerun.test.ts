// rerun: the failed jobs again, same task and arguments, same backend, parameters changed on request;
// the new ids linked from the old jobs. Local through the CLI, Slurm through the API and the fakes.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { LocalExecutor, rerun } from '../dist/lib/index.js'
import { readSubmission } from '../dist/lib/core/format.js'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { add, fails, square } from '../dist/fixtures/tasks.js'
import { fakeSlurm } from './helpers/fake-slurm.js'
import { CLI } from './helpers/paths.js'
import { until } from './helpers/waiting.js'

const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 })

t.test('local, from the command line: only the failed elements, --set, links', async (t) => {
  const folder = `${t.testdir()}/%j`
  const ex = new LocalExecutor({ folder, maxWorkers: 2, timeoutMin: 5 })
  t.teardown(() => ex.shutdown())
  const jobs = await ex.batch(() => {
    ex.submit(square, 3)
    ex.submit(fails, 'first bad')
    ex.submit(square, 4)
    ex.submit(fails, 'second bad')
  })
  await Promise.all(jobs.map((j) => j.wait()))
  const arrayId = jobs[0].paths.arrayId

  const r = run('rerun', folder, arrayId, '--set', 'timeoutMin=30')
  t.equal(r.status, 1, 'the reruns fail again: exit 1')
  const lines = r.stdout.trim().split('\n')
  t.equal(lines.length, 2, 'two jobs rerun')
  const [, from1, to1] = /^(\S+)\t→ (\S+)$/.exec(lines[0])!
  t.equal(from1, `${arrayId}_1`)
  const newArray = to1.split('_')[0]
  t.not(newArray, arrayId)
  const sub = readSubmission(path.join(path.dirname(folder), newArray, `${newArray}_submitted.v8`))
  t.same(sub.args, [['first bad'], ['second bad']], 'same arguments')
  t.same(
    sub.fns.map((f) => f.exportName),
    ['fails'],
    'same task',
  )
  t.equal(sub.params.timeoutMin, 30, '--set applied')
  t.equal(sub.backend, 'local')
  const result = run('result', folder, to1)
  t.match(result.stderr, /first bad/, 'it ran, with the same argument')

  t.match(run('list', folder).stdout, new RegExp(`${arrayId}\\s.*→ ${newArray}`), 'list shows the link')
  t.match(run('status', folder, `${arrayId}_1`).stdout, new RegExp(`rerun as ${to1}`), 'status shows it')
  const again = run('rerun', folder, arrayId)
  t.equal(again.status, 0)
  t.match(again.stderr, /already rerun, left out/)
  t.match(again.stderr, /nothing to rerun/)
  const bad = run('rerun', folder, arrayId, '--all', '--set', 'nosuch=1')
  t.equal(bad.status, 2, 'an unknown parameter is a usage error')
  t.match(bad.stderr, /nosuch/)
  const done = run('rerun', folder, `${arrayId}_0`)
  t.equal(done.status, 1)
  t.match(done.stderr, /COMPLETED: nothing to rerun \(--all reruns it anyway\)/)
})

t.test("Slurm, through the API (fake commands): the same folder, the old batch script's parameters kept", async (t) => {
  const dir = t.testdir()
  const { commands, sbatchArgs, script: batchScript } = fakeSlurm(dir)
  const folder = path.join(dir, 'logs')
  const ex = new SlurmExecutor({ folder, commands, partition: 'debug', memGb: 2, timeoutMin: 7 })
  const jobs = await ex.mapArray(add, [1, 2, 3], [10, 20, 30])
  t.equal(jobs[0].jobId, '1000_0')
  const fresh = await rerun([jobs[2], jobs[0]], { timeoutMin: 9 }, { commands })
  t.same(
    fresh.map((j) => j.jobId),
    ['1001_0', '1001_1'],
    'one new array, in the order given',
  )
  const args = sbatchArgs(1001).join('\n')
  const script = batchScript(1001)
  t.match(script + args, /--partition=debug/, 'the partition kept')
  t.match(script + args, /--mem=2048M/, 'the memory kept')
  t.match(script + args, /--time=9\b/, 'the timeout changed')
  const sub = readSubmission(path.join(folder, '1001_submitted.v8'))
  t.same(sub.args, [
    [3, 30],
    [1, 10],
  ])
  t.equal(sub.backend, 'slurm')
  const links = JSON.parse(fs.readFileSync(path.join(folder, '1000_rerun.json'), 'utf8'))
  t.same(links.reruns[0].jobs, { '1000_2': '1001_0', '1000_0': '1001_1' })
  await ex.shutdown()
})

t.test('two reruns at once rerun each job once; a single job already rerun is refused; chains are followed', async (t) => {
  const folder = `${t.testdir()}/%j`
  const ex = new LocalExecutor({ folder, maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  const jobs = await ex.mapArray(fails, ['a', 'b', 'c'])
  await Promise.all(jobs.map((j) => j.wait()))
  const arrayId = jobs[0].paths.arrayId
  const runAsync = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d) => (stdout += d))
      child.stderr.on('data', (d) => (stderr += d))
      child.on('close', (code) => resolve({ code, stdout, stderr }))
    })
  const both = await Promise.all([runAsync('rerun', folder, arrayId), runAsync('rerun', folder, arrayId)])
  const moved = both.flatMap((r) => r.stdout.trim().split('\n').filter(Boolean))
  t.equal(moved.length, 3, `each job rerun once in all: ${JSON.stringify(both)}`)
  t.same(
    moved.map((l) => l.split('\t')[0]).sort(),
    [0, 1, 2].map((i) => `${arrayId}_${i}`),
  )
  t.ok(
    both.some((r) => /nothing to rerun/.test(r.stderr)),
    'the second one found them rerun',
  )
  const links = JSON.parse(fs.readFileSync(path.join(path.dirname(folder), arrayId, `${arrayId}_rerun.json`), 'utf8'))
  t.equal(links.reruns.length, 1, 'one rerun recorded, none lost')
  t.notOk(fs.existsSync(path.join(path.dirname(folder), arrayId, `${arrayId}_rerun.lock`)), 'the lock is gone')

  const first = `${arrayId}_1`
  const again = run('rerun', folder, first)
  t.equal(again.status, 1)
  t.match(again.stderr, new RegExp(`job ${first} was rerun already as (\\S+): rerun that one, or --all`))
  const second = links.reruns[0].jobs[first] as string
  const chained = run('rerun', folder, second)
  t.equal(chained.status, 1, 'fails again')
  const third = /→ (\S+)/.exec(chained.stdout)![1]
  t.match(run('status', folder, first).stdout, new RegExp(`rerun as ${second} → ${third}`), 'status follows the chain')
  t.match(run('status', folder, second).stdout, new RegExp(`rerun as ${third}\trerun of ${first}`), 'and says where a rerun comes from')
  t.match(run('list', folder).stdout, new RegExp(`^${third.split('_')[0]}\\s.*← ${second.split('_')[0]}`, 'm'), 'list shows the back link')
  const forced = run('rerun', folder, first, '--all')
  t.equal(forced.status, 1, '--all reruns it anyway (and it fails again)')
  t.match(forced.stdout, new RegExp(`^${first}\t→ `))
})

t.test('a rerun waits for the one holding the array lock, then sees its links; a dead holder’s lock is taken over', async (t) => {
  const folder = `${t.testdir()}/%j`
  const ex = new LocalExecutor({ folder, maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  const jobs = await ex.mapArray(fails, ['a', 'b'])
  await Promise.all(jobs.map((j) => j.wait()))
  const arrayId = jobs[0].paths.arrayId
  const dir = path.join(path.dirname(folder), arrayId)
  const lock = path.join(dir, `${arrayId}_rerun.lock`)
  fs.writeFileSync(lock, `${process.pid} ${os.hostname()}`) // another rerun, alive, is submitting
  const child = spawn(process.execPath, [CLI, 'rerun', folder, arrayId], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const closed = new Promise((r) => child.on('close', r))
  await until(() => /waiting for another rerun/.test(stderr), 60_000, 'the rerun to wait for the lock')
  // what the other rerun recorded before it let go
  fs.writeFileSync(
    path.join(dir, `${arrayId}_rerun.json`),
    JSON.stringify({ reruns: [{ at: new Date().toISOString(), arrayId: 'X', jobs: { [`${arrayId}_0`]: 'X_0', [`${arrayId}_1`]: 'X_1' } }] }),
  )
  fs.rmSync(lock)
  await closed
  t.equal(stdout, '', 'nothing rerun twice')
  t.match(stderr, /already rerun, left out[\s\S]*nothing to rerun/)

  fs.writeFileSync(lock, `999999999 ${os.hostname()}`) // its holder is gone
  fs.rmSync(path.join(dir, `${arrayId}_rerun.json`))
  const r = run('rerun', folder, `${arrayId}_0`)
  t.match(r.stdout, new RegExp(`^${arrayId}_0\t→ `), 'a dead holder’s lock does not stop it')
  t.notOk(fs.existsSync(lock))
})
