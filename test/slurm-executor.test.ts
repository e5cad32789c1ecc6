// The SlurmExecutor's submission path against the fake Slurm commands (fixtures/fake-slurm): what
// reaches sbatch, the files it leaves, arrays split at MaxArraySize, and results read from the
// result files without asking the scheduler. The real cluster is in slurm-integration.test.ts.
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { AutoExecutor, FailedSubmissionError, LocalExecutor, ParameterError } from '../dist/lib/index.js'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { add, square } from '../dist/fixtures/tasks.js'
import { fakeSlurm } from './helpers/fake-slurm.js'
import { FAKE_SLURM_BIN, ROOT } from './helpers/paths.js'

t.test('submit: one sbatch, the files on disk, the result read from its file', async (t) => {
  const dir = t.testdir()
  const f = fakeSlurm(dir)
  const folder = path.join(dir, 'logs')
  const ex = new SlurmExecutor({ folder, commands: f.commands, partition: 'debug', memGb: 3.5, timeoutMin: 7 })
  const job = await ex.submit(add, 40, 2)
  t.equal(job.jobId, '1000')
  const args = f.sbatchArgs(1000)
  t.ok(args.includes('--parsable'))
  t.ok(args.includes(`--output=${folder}/%j_%t_log.out`), 'logs go to the folder')
  t.notOk(args.includes('--hold'), 'a folder without ids needs no hold')
  const script = f.script(1000)
  t.match(script, /#SBATCH --partition=debug/)
  t.match(script, /#SBATCH --mem=3584M/)
  t.match(script, /#SBATCH --time=7/)
  t.match(script, /srun .*worker\/main\.js/, 'the batch script runs the worker entrypoint through srun')
  t.ok(fs.existsSync(path.join(folder, '1000_submitted.v8')))
  t.ok(fs.existsSync(path.join(folder, '1000_submission.sh')))
  t.equal(job.state, 'PENDING', 'nothing known yet')

  const node = f.runOnNode(folder, '1000', null)
  t.equal(node.status, 0, node.stderr)
  t.equal(await job.result(), 42)
  t.equal(job.state, 'COMPLETED')
  t.same(f.calls('sacct'), [], 'a finished job needs no scheduler call: its result file says it')
})

t.test("a folder that depends on the job id: not held, the batch script makes it; Slurm's own log beside it", async (t) => {
  const dir = t.testdir()
  const f = fakeSlurm(dir)
  const folder = path.join(dir, 'runs', '%j')
  const ex = new SlurmExecutor({ folder, commands: f.commands })
  const jobs = await ex.mapArray(square, [1, 2, 3])
  t.same(
    jobs.map((j) => j.jobId),
    ['1000_0', '1000_1', '1000_2'],
  )
  const args = f.sbatchArgs(1000)
  t.notOk(args.includes('--hold'), 'no hold: sbatch checks the request as for any folder')
  t.ok(args.includes(`--output=${path.join(dir, 'runs')}/slurm-%A_%a.out`), "Slurm's own log where the folder needs no id")
  t.same(
    f.calls('scontrol').filter((c) => c.includes('release')),
    [],
    'nothing to release',
  )
  const script = f.script(1000)
  t.match(script, /#SBATCH --array=0-2/)
  t.match(script, /mkdir -p -- .*"\$\{SLURM_ARRAY_JOB_ID\}_\$\{SLURM_ARRAY_TASK_ID\}"/, "the script makes the job's folder")
  t.match(script, /--output=.*runs\/%A_%a\/%A_%a_%t_log\.out/, "srun's logs in the job's folder: our %j is Slurm's %A_%a")
  t.equal(fs.readFileSync(path.join(f.state, 'jobs', '1000.cwd'), 'utf8').trim(), path.join(dir, 'runs'))
  t.ok(fs.existsSync(path.join(dir, 'runs', '1000', '1000_submitted.v8')), "the array's files in its own folder")
  t.equal(f.runOnNode(folder, '1000', 1).status, 0)
  t.equal(await jobs[1].result(), 4)
})

t.test('an array larger than MaxArraySize goes as several sbatch calls, in order', async (t) => {
  const dir = t.testdir()
  const f = fakeSlurm(dir)
  f.write('scontrol-config.txt', 'MaxArraySize            = 100\nMaxJobCount = 10000\n')
  const ex = new SlurmExecutor({ folder: path.join(dir, 'logs'), commands: f.commands, arrayParallelism: 16 })
  const xs = Array.from({ length: 250 }, (_, i) => i)
  const jobs = await ex.mapArray(square, xs)
  t.equal(f.calls('sbatch').length, 3)
  t.equal(f.calls('scontrol').length, 1, 'MaxArraySize asked once')
  t.match(f.script(1000), /--array=0-99%16/)
  t.match(f.script(1001), /--array=0-99%16/)
  t.match(f.script(1002), /--array=0-49%16/)
  t.same(
    jobs.slice(98, 102).map((j) => j.jobId),
    ['1000_98', '1000_99', '1001_0', '1001_1'],
  )
  t.equal(jobs[249].jobId, '1002_49')
  t.equal(f.runOnNode(path.join(dir, 'logs'), '1002', 49).status, 0)
  t.equal(await jobs[249].result(), 249 * 249, 'element 249 got its own argument')
})

t.test('arrayParallelism over a split array: each part waits for the whole previous one (afterany)', async (t) => {
  const dir = t.testdir()
  const f = fakeSlurm(dir)
  f.write('scontrol-config.txt', 'MaxArraySize            = 100\n')
  const ex = new SlurmExecutor({ folder: path.join(dir, 'logs'), commands: f.commands, arrayParallelism: 2, dependency: 'afterok:7' })
  await ex.mapArray(
    square,
    Array.from({ length: 243 }, (_, i) => i),
  )
  const dep = (id: number) =>
    f
      .sbatchArgs(id)
      .concat(f.script(id).split('\n'))
      .filter((a) => a.includes('--dependency'))
  t.match(dep(1000).join(' '), /--dependency=afterok:7$/, "the first part: the user's dependency only")
  t.match(dep(1001).join(' '), /--dependency=afterok:7,afterany:1000$/)
  t.match(dep(1002).join(' '), /--dependency=afterok:7,afterany:1001$/)
  t.match(f.script(1002), /--array=0-42%2/)

  // without a parallelism, the parts run side by side
  const free = new SlurmExecutor({ folder: path.join(dir, 'logs'), commands: f.commands })
  await free.mapArray(
    square,
    Array.from({ length: 150 }, (_, i) => i),
  )
  t.same(dep(1004), [], 'no dependency')

  // '?' (any of) cannot be ANDed with the chain: refused before anything is submitted
  const calls = f.calls('sbatch').length
  free.updateParameters({ arrayParallelism: 3, dependency: 'afterok:1?afterok:2' })
  await t.rejects(
    free.mapArray(
      square,
      Array.from({ length: 150 }, (_, i) => i),
    ),
    /cannot be combined/,
  )
  t.equal(f.calls('sbatch').length, calls)
})

t.test('a part of a split array that sbatch refuses: the parts already submitted are cancelled', async (t) => {
  const dir = t.testdir()
  const f = fakeSlurm(dir)
  f.write('scontrol-config.txt', 'MaxArraySize            = 100\n')
  const ex = new SlurmExecutor({ folder: path.join(dir, 'logs'), commands: f.commands })
  // the fake sbatch fails from the third part on
  f.write('sbatch.fail-from', '1002\nsbatch: error: Batch job submission failed: Job violates accounting/QOS policy\n')
  const e = await ex
    .mapArray(
      square,
      Array.from({ length: 250 }, (_, i) => i),
    )
    .then(
      () => null,
      (err: Error) => err,
    )
  t.type(e, FailedSubmissionError)
  t.match(e?.message, /QOS policy/)
  t.same(f.cancelled(), ['1000', '1001'])
})

t.test('sbatch failing: FailedSubmissionError with its message, nothing left behind', async (t) => {
  const dir = t.testdir()
  const f = fakeSlurm(dir)
  f.write('sbatch.fail', 'sbatch: error: invalid partition specified: nosuch\n')
  const ex = new SlurmExecutor({ folder: path.join(dir, 'logs'), commands: f.commands, partition: 'nosuch' })
  const e = await ex.submit(add, 1, 2).then(
    () => null,
    (err: Error) => err,
  )
  t.type(e, FailedSubmissionError)
  t.match(e?.message, /invalid partition specified: nosuch/)
  t.same(
    fs.readdirSync(path.join(dir, 'logs')).filter((n) => n.endsWith('.v8')),
    [],
    'no submission file',
  )
})

t.test('parameters: an unknown name lists the valid ones; wrong types are refused', async (t) => {
  const dir = t.testdir()
  const f = fakeSlurm(dir)
  const ex = new SlurmExecutor({ folder: path.join(dir, 'logs'), commands: f.commands })
  t.throws(() => ex.updateParameters({ partiton: 'x' } as never), /partiton[\s\S]*partition/)
  t.throws(() => ex.updateParameters({ memGb: 'lots' } as never), ParameterError)
})

t.test('AutoExecutor: Slurm when sbatch is there, else local; generic and prefixed parameters', async (t) => {
  const dir = t.testdir()
  const savedPath = process.env.PATH
  t.teardown(() => {
    process.env.PATH = savedPath
  })
  process.env.PATH = `${path.join(ROOT, 'test', 'fixtures', 'no-such-dir')}`
  const local = new AutoExecutor({ folder: path.join(dir, 'l'), timeoutMin: 3, slurmPartition: 'gpu', localMaxWorkers: 1 })
  t.equal(local.cluster, 'local')
  t.type(local.executor, LocalExecutor)
  t.same(local.executor.parameters, { maxWorkers: 1, timeoutMin: 3 }, 'slurm parameters ignored on a laptop')
  t.equal(await (await local.submit(add, 1, 2)).result(), 3)
  await local.shutdown()

  process.env.PATH = `${FAKE_SLURM_BIN}:${savedPath}`
  const slurm = new AutoExecutor({ folder: path.join(dir, 's'), name: 'sweep', memGb: 2, slurmMemGb: 4, slurmPartition: 'gpu', localMaxWorkers: 1 })
  t.equal(slurm.cluster, 'slurm')
  t.type(slurm.executor, SlurmExecutor)
  t.same(slurm.executor.parameters, { jobName: 'sweep', memGb: 4, partition: 'gpu' }, 'a prefixed value overrides the generic one')
  t.throws(() => slurm.updateParameters({ slurmPartiton: 'x' } as never), /slurmPartiton[\s\S]*slurmPartition/)
  t.equal(new AutoExecutor({ folder: path.join(dir, 'd'), cluster: 'debug' }).cluster, 'debug')
})

t.test('a job whose submission cannot be written after sbatch answered is cancelled, and the submit fails', async (t) => {
  const dir = t.testdir()
  const f = fakeSlurm(dir)
  const folder = path.join(dir, 'runs', '%j')
  fs.mkdirSync(path.join(dir, 'runs'))
  fs.writeFileSync(path.join(dir, 'runs', '1000'), "a file where the job's folder should be")
  const ex = new SlurmExecutor({ folder, commands: f.commands })
  const e = await ex.submit(add, 1, 2).then(
    () => null,
    (err: Error) => err,
  )
  t.match(e?.message, /EEXIST|ENOTDIR/)
  t.same(f.cancelled(), ['1000'], 'the job was scancelled')
})
