// submitit parity, Slurm (test_slurm.py): the batch script of a job (job.paths.submissionFile, as
// submitit's paths.submission_file), the defaults of its #SBATCH lines (submitit's recorded script:
// --wckey=submitit among them), and a job folder on another file system than the temporary one, as
// on most clusters (a local /tmp, logs on a shared file system).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { getBackend, SlurmExecutor } from '../dist/lib/index.js'
import { cluster } from '../dist/fixtures/parity-tasks.js'
import { add, square } from '../dist/fixtures/tasks.js'
import { fakeSlurm } from './helpers/fake-slurm.js'

t.test('job.paths.submissionFile is the batch script, one per array, as submitit', async (t) => {
  const dir = t.testdir()
  const f = fakeSlurm(dir)
  const ex = new SlurmExecutor({ folder: path.join(dir, '%j'), commands: f.commands, arrayParallelism: 3 })
  const jobs = await ex.mapArray(add, [0, 1, 2, 3, 4], [10, 11, 12, 13, 14])
  t.same(
    jobs.map((j) => j.jobId),
    ['1000_0', '1000_1', '1000_2', '1000_3', '1000_4'],
  )
  const files = new Set(jobs.map((j) => j.paths.submissionFile))
  t.equal(files.size, 1, 'every element names the same script')
  const [file] = files
  t.equal(file, path.join(dir, '1000', '1000_submission.sh'))
  const lines = fs
    .readFileSync(file!, 'utf8')
    .split('\n')
    .filter((l) => l.includes('--array'))
  t.same(lines, ['#SBATCH --array=0-4%3'], "submitit's test_slurm_job_array_mocked")
  t.equal(fs.readFileSync(file!, 'utf8'), f.script(1000), 'the script sbatch got')

  const single = await ex.submit(add, 1, 2)
  t.equal(single.paths.submissionFile, path.join(dir, '1001', '1001_submission.sh'))
  t.ok(fs.existsSync(single.paths.submissionFile))
})

t.test('with %A/%a in the folder, the script is beside the submission, where a rerun reads it', async (t) => {
  const dir = t.testdir()
  const f = fakeSlurm(dir)
  const ex = new SlurmExecutor({ folder: path.join(dir, '%A', '%a'), commands: f.commands, partition: 'gpu', cpusPerTask: 3 })
  const jobs = await ex.mapArray(square, [1, 2])
  const file = jobs[1]!.paths.submissionFile
  t.equal(file, path.join(dir, '1000', 'all', '1000_submission.sh'))
  t.ok(fs.existsSync(file), 'written where the jobs name it')
  t.equal(path.dirname(file), path.dirname(jobs[1]!.paths.submitted), 'beside the submission')
  const record = { folder: path.join(dir, '%A', '%a'), arrayId: '1000', isArray: true } as never
  t.same(getBackend('slurm')!.parametersOf!(record), { partition: 'gpu', jobName: 'submitit', cpusPerTask: 3 }, 'a rerun keeps its parameters')
})

t.test("the #SBATCH lines of submitit's recorded script, --wckey=submitit included", async (t) => {
  const dir = t.testdir()
  const f = fakeSlurm(dir)
  const ex = new SlurmExecutor({
    folder: path.join(dir, 'logs'),
    commands: f.commands,
    partition: 'learnfair',
    exclusive: true,
    additionalParameters: { blublu: 12 },
    srunArgs: ['-vv', '--cpu-bind', 'none'],
  })
  const job = await ex.submit(add, 1, 2)
  const script = fs.readFileSync(job.paths.submissionFile, 'utf8')
  for (const line of [
    '#SBATCH --blublu=12',
    '#SBATCH --exclusive',
    '#SBATCH --job-name=submitit',
    '#SBATCH --nodes=1',
    '#SBATCH --partition=learnfair',
    '#SBATCH --signal=USR2@90',
    '#SBATCH --time=5',
    '#SBATCH --wckey=submitit',
  ]) {
    t.ok(script.split('\n').includes(line), line)
  }
  t.notMatch(script, /constraint/)
  t.match(script, /^\s+srun --unbuffered .* -vv --cpu-bind none /m, 'the srun arguments, in order')
  t.ok(f.sbatchArgs(1000).includes('--open-mode=append'))

  ex.updateParameters({ wckey: 'mine', additionalParameters: null })
  t.match(f.script((await ex.submit(add, 1, 2)).jobId), /^#SBATCH --wckey=mine$/m, 'a wckey of your own')
  ex.updateParameters({ wckey: null, additionalParameters: { wckey: false } })
  t.notMatch(f.script((await ex.submit(add, 1, 2)).jobId), /^#SBATCH --wckey/m, 'additionalParameters: { wckey: false } drops it')
})

const shm = '/dev/shm'
const otherFs = fs.existsSync(shm) && fs.statSync(shm).dev !== fs.statSync(process.cwd()).dev
const crossFs = otherFs ? {} : { skip: `needs ${shm} on another file system than ${process.cwd()}` }

t.test('a job folder on another file system than os.tmpdir() (a local /tmp, logs on a shared disk)', crossFs, async (t) => {
  const dir = t.testdir()
  t.not(fs.statSync(shm).dev, fs.statSync(dir).dev, 'two file systems')
  const tmp = fs.mkdtempSync(path.join(shm, 'submitit-ts-test-'))
  const before = process.env.TMPDIR
  process.env.TMPDIR = tmp // where the executor stages its batch script
  t.teardown(() => {
    if (before === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = before
    fs.rmSync(tmp, { recursive: true, force: true })
  })
  t.equal(os.tmpdir(), tmp)
  const f = fakeSlurm(dir)
  const folder = path.join(dir, 'logs', '%j')
  const ex = new SlurmExecutor({ folder, commands: f.commands })
  const job = await ex.submit(add, 40, 2)
  t.same(f.cancelled(), [], 'the job is not cancelled after sbatch answered')
  t.ok(fs.existsSync(job.paths.submitted))
  t.equal(fs.readFileSync(job.paths.submissionFile, 'utf8'), f.script(job.jobId))
  const jobs = await ex.mapArray(square, [1, 2, 3])
  t.equal(jobs.length, 3, 'an array too')
  t.same(fs.readdirSync(tmp), [], 'nothing left in the temporary folder')
  const node = f.runOnNode(folder, job.jobId, null)
  t.equal(node.status, 0, node.stderr)
  t.equal(await job.result(), 42)
})

t.test('JobEnvironment.cluster on a node is slurm', async (t) => {
  const dir = t.testdir()
  const f = fakeSlurm(dir)
  const folder = path.join(dir, 'logs')
  const ex = new SlurmExecutor({ folder, commands: f.commands })
  const job = await ex.submit(cluster)
  const node = f.runOnNode(folder, job.jobId, null)
  t.equal(node.status, 0, node.stderr)
  t.equal(await job.result(), 'slurm')
})
