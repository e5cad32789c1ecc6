// rerun: the failed jobs again, same task and arguments, same backend, parameters changed on request;
// the new ids linked from the old jobs. Local through the CLI, Slurm through the API and the fakes.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { LocalExecutor, rerun } from '../dist/lib/index.js'
import { readSubmission } from '../dist/lib/core/format.js'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { add, fails, square } from '../dist/fixtures/tasks.js'
import { fakeSlurm } from './helpers/fake-slurm.js'
import { CLI } from './helpers/paths.js'

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
