// clean: never the files of a job that has not ended, even while another process keeps submitting
// into the folder; a submission it cannot read is left alone and named; bad ages and states are
// usage errors.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { LocalExecutor } from '../dist/lib/index.js'
import { train } from '../dist/fixtures/tasks.js'
import { CLI, distUrl } from './helpers/paths.js'
import { writeScript } from './helpers/processes.js'

const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 })
const runAsync = (...args: string[]) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })

// submits 12 arrays one after the other, each checked for its values once it has run
const SUBMITTER = (folder: string) => `
import { LocalExecutor } from ${JSON.stringify(distUrl('lib/index.js'))}
import { sleepMs } from ${JSON.stringify(distUrl('fixtures/tasks.js'))}
const ex = new LocalExecutor({ folder: ${JSON.stringify(folder)}, maxWorkers: 2 })
for (let k = 0; k < 12; k++) {
  const jobs = await ex.mapArray(sleepMs, [150, 150, 150], [k, k + 1, k + 2])
  const values = await Promise.all(jobs.map((j) => j.result()))
  if (values.join() !== [k, k + 1, k + 2].join()) throw new Error('wrong values ' + values)
  console.log('ARRAY ' + jobs[0].paths.arrayId)
}
await ex.shutdown()
`

t.test('clean while another process submits into the folder: only what had ended goes', async (t) => {
  const dir = t.testdir()
  const folder = path.join(dir, 'logs', '%j')
  fs.mkdirSync(path.join(dir, 'logs'))
  const script = writeScript(dir, 'submitter.mjs', SUBMITTER(folder))
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  const exited = new Promise<number | null>((r) => child.on('close', r))
  let ended: number | null | undefined
  void exited.then((c) => (ended = c))
  const cleans: { code: number | null; stdout: string; stderr: string }[] = []
  while (ended === undefined) cleans.push(await runAsync('clean', folder, '--json'))
  t.equal(ended, 0, `the submitter got every value of every array: ${err}`)
  t.ok(cleans.length >= 2, `${cleans.length} cleans ran meanwhile`)
  for (const c of cleans) t.equal(c.code, 0, c.stderr)
  const removed = cleans.flatMap((c) => JSON.parse(c.stdout).removed.map((r: { arrayId: string }) => r.arrayId))
  const made = [...out.matchAll(/ARRAY (\S+)/g)].map((m) => m[1])
  t.equal(made.length, 12)
  t.ok(removed.length > 0, 'some were cleaned while it ran')
  t.ok(
    removed.every((id) => made.includes(id)),
    'only arrays it had made',
  )
})

t.test('an unreadable submission is left alone and named; bad ages and states are usage errors', async (t) => {
  const dir = t.testdir()
  const folder = path.join(dir, '%j')
  const ex = new LocalExecutor({ folder, maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  const [job] = await ex.mapArray(train, [1], [1])
  await job.wait()
  fs.mkdirSync(path.join(dir, 'broken'))
  fs.writeFileSync(path.join(dir, 'broken', 'broken_submitted.v8'), 'not v8 at all')
  const list = run('list', folder)
  t.equal(list.status, 0)
  t.match(list.stderr, /skipped .*broken_submitted\.v8: cannot read/, 'list names it')
  t.match(list.stdout, new RegExp(job.paths.arrayId))
  const status = run('status', folder, 'broken')
  t.equal(status.status, 1)
  t.match(status.stderr, /^submitit-ts status: cannot read .*broken_submitted\.v8/)
  const clean = run('clean', folder)
  t.equal(clean.status, 0, clean.stderr)
  t.match(clean.stdout, new RegExp(`removed ${job.paths.arrayId}: \\d+ files`))
  t.match(clean.stderr, /left .*broken_submitted\.v8 alone: cannot read/)
  t.ok(fs.existsSync(path.join(dir, 'broken', 'broken_submitted.v8')), 'not removed')
  for (const age of ['7', '7days', '1y', '-3d', 'd']) {
    const r = run('clean', folder, '--older-than', age)
    t.equal(r.status, 2, `--older-than ${age}: usage error`)
    t.match(r.stderr, /usage: submitit-ts clean/, 'with the usage of clean')
  }
  t.equal(run('clean', folder, '--state', 'running').status, 2, 'a state that has not ended')
  t.equal(run('clean', folder, '--state', 'bogus').status, 2)
})
