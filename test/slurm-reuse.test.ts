// A job id Slurm gives again (its state was reset, ids restart) must never return an older job's
// files as the new job's, against the fake Slurm commands: the fake's ids restart with a new state
// directory, as the real ones do after `stop.sh --purge`. The real cluster: slurm-integration-reuse.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { rerun } from '../dist/lib/index.js'
import { readSubmission } from '../dist/lib/core/format.js'
import { readReruns } from '../dist/lib/core/rerun.js'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { add, fails, square } from '../dist/fixtures/tasks.js'
import { fakeSlurm } from './helpers/fake-slurm.js'
import { CLI, FAKE_SLURM_BIN, WORKER_MAIN } from './helpers/paths.js'

t.test('a reused id: the old files are moved aside, the new job returns its own value', async (t) => {
  const dir = t.testdir()
  const folder = path.join(dir, 'logs')
  const before = fakeSlurm(dir, 'before')
  const oldJob = await new SlurmExecutor({ folder, commands: before.commands }).submit(add, 1, 1)
  const oldArray = await new SlurmExecutor({ folder, commands: before.commands }).mapArray(square, [5, 6])
  t.equal(before.runOnNode(folder, '1000', null).status, 0)
  t.equal(before.runOnNode(folder, '1001', 1).status, 0)
  t.equal(await oldJob.result(), 2)
  t.equal(await oldArray[1].result(), 36)

  // the cluster is re-created: the same ids again, in the same folder
  const after = fakeSlurm(dir, 'after')
  const ex = new SlurmExecutor({ folder, commands: after.commands })
  const job = await ex.submit(add, 40, 2)
  const array = await ex.mapArray(square, [7, 8])
  t.equal(job.jobId, '1000', 'the id was reused')
  t.same(
    array.map((j) => j.jobId),
    ['1001_0', '1001_1'],
  )
  t.not(job.nonce, oldJob.nonce)
  t.equal(job.state, 'PENDING', 'the old result file does not make the new job finished')
  t.equal(array[1].state, 'PENDING')
  const names = fs.readdirSync(folder)
  t.ok(
    names.some((n) => n.startsWith('1000_0_result.v8.stale-')),
    'the old result moved aside',
  )
  t.ok(
    names.some((n) => n.startsWith('1001_1_0_result.v8.stale-')),
    'the old array result moved aside',
  )
  t.ok(
    names.some((n) => n.startsWith('1000_submitted.v8.stale-')),
    'the old submission moved aside',
  )
  t.notOk(names.includes('1000_0_result.v8'))

  t.equal(after.runOnNode(folder, '1000', null).status, 0)
  t.equal(after.runOnNode(folder, '1001', 1).status, 0)
  t.equal(await job.result(), 42, 'its own value')
  t.equal(await array[1].result(), 64)
  t.same((await job.submission()).args, [40, 2])
  t.equal(oldJob.state, 'COMPLETED', 'the old job object keeps what it had read')
})

t.test('the worker waits for the submission with its nonce, not the one an older job left', async (t) => {
  const dir = t.testdir()
  const folder = path.join(dir, 'logs')
  const before = fakeSlurm(dir, 'before')
  await new SlurmExecutor({ folder, commands: before.commands }).submit(add, 1, 1)
  const submitted = path.join(folder, '1000_submitted.v8')
  const oldBytes = fs.readFileSync(submitted)
  const after = fakeSlurm(dir, 'after')
  const job = await new SlurmExecutor({ folder, commands: after.commands }).submit(add, 40, 2)
  // as on a node that starts the job before the submitting process has written its submission
  const newBytes = fs.readFileSync(submitted)
  fs.writeFileSync(submitted, oldBytes)
  const worker = spawn(process.execPath, [WORKER_MAIN, folder], { env: after.nodeEnv('1000', null), stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  worker.stderr.on('data', (d: Buffer) => {
    stderr += String(d)
  })
  const exited = new Promise<number | null>((resolve) => worker.on('exit', resolve))
  await new Promise((r) => setTimeout(r, 1500))
  t.notOk(fs.existsSync(job.paths.resultFile(0)), 'nothing run from the old submission')
  fs.writeFileSync(`${submitted}.tmp`, newBytes)
  fs.renameSync(`${submitted}.tmp`, submitted)
  t.equal(await exited, 0, stderr)
  t.equal(await job.result(), 42)
})

t.test('the worker fails clearly when its submission never comes, naming the file and the nonce', async (t) => {
  const dir = t.testdir()
  const folder = path.join(dir, 'logs')
  const before = fakeSlurm(dir, 'before')
  await new SlurmExecutor({ folder, commands: before.commands }).submit(add, 1, 1)
  const submitted = path.join(folder, '1000_submitted.v8')
  const r = before.runOnNode(folder, '1000', null, { SUBMITIT_NONCE: 'a-nonce-never-written', SUBMITIT_SUBMISSION_WAIT_MS: '1000' })
  t.equal(r.status, 2)
  t.match(r.stderr, `the submission file ${submitted} with nonce a-nonce-never-written did not appear within 1 s`)
  t.match(r.stderr, /another submission \(nonce [0-9a-f-]+/)
  t.notOk(fs.existsSync(path.join(folder, '1000_0_result.v8')), 'the older submission was not run')
})

t.test("an older array's rerun links are not the new array's: its failed jobs can be rerun", async (t) => {
  const dir = t.testdir()
  const folder = path.join(dir, 'logs')
  const before = fakeSlurm(dir, 'before')
  const old = await new SlurmExecutor({ folder, commands: before.commands }).mapArray(fails, ['a', 'b'])
  before.write('sacct.txt', '1000_0|FAILED|1:0|None\n1000_1|FAILED|1:0|None\n')
  t.equal(before.runOnNode(folder, '1000', 0).status, 1)
  t.equal(before.runOnNode(folder, '1000', 1).status, 1)
  await rerun(old, {}, { commands: before.commands })
  t.ok(fs.existsSync(path.join(folder, '1000_rerun.json')), 'the old array was rerun (as 1001)')

  // the cluster is re-created: array 1000 again, in the same folder; its element 0 fails
  const after = fakeSlurm(dir, 'after')
  const jobs = await new SlurmExecutor({ folder, commands: after.commands }).mapArray(fails, ['c', 'd'])
  t.equal(jobs[0].paths.arrayId, '1000', 'the id was reused')
  t.ok(
    fs.readdirSync(folder).some((n) => n.startsWith('1000_rerun.json.stale-')),
    'the old rerun links moved aside',
  )
  t.equal(readReruns(readSubmission(jobs[0].paths.submitted)), undefined, 'the new array has not been rerun')
  t.equal(after.runOnNode(folder, '1000', 0).status, 1)
  after.write('sacct.txt', '1000_0|FAILED|1:0|None\n1000_1|PENDING|0:0|Resources\n1002|PENDING|0:0|Resources\n')
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [CLI, ...args], { env: { ...after.env, SUBMITIT_SLURM_BIN_DIR: FAKE_SLURM_BIN }, encoding: 'utf8', timeout: 60_000 })
  const list = cli('list', folder)
  t.equal(list.status, 0, list.stderr)
  t.notMatch(list.stdout, /^1000 .*→/m, 'list shows no rerun of the new array')
  const again = cli('rerun', folder, '1000')
  t.equal(again.status, 0, again.stderr)
  t.notMatch(again.stderr, /already rerun/)
  t.match(again.stdout, /^1000_0\t→ 1001_0$/m, 'its failed job is rerun')

  // a links file of another submission in place (written by an older version, without moving): ignored
  const sub = readSubmission(jobs[0].paths.submitted)
  t.equal(readReruns(sub)?.reruns[0]?.jobs['1000_0'], '1001_0', 'its own rerun is linked')
  fs.writeFileSync(path.join(folder, '1000_rerun.json'), JSON.stringify({ nonce: 'another', reruns: [{ at: '', arrayId: '7', jobs: { '1000_1': '7_0' } }] }))
  t.equal(readReruns(sub), undefined, "another submission's links are not read")
})
