// Packed arrays (chunkSize, issue 11) against the fake Slurm commands: what is submitted, each element
// a job of its own (id, result, logs, failure, cancel, re-attach), exactly once across reruns of a
// pack. The worker runs as the batch script runs it on a node. The real cluster: slurm-integration-pack.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { AutoExecutor, attachJob, FailedJobError, ParameterError } from '../dist/lib/index.js'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { countedRun, runsIn } from '../dist/fixtures/pack-tasks.js'
import { readSubmission, writeResultFile } from '../dist/lib/core/format.js'
import { fakeSlurm } from './helpers/fake-slurm.js'
import { WORKER_MAIN } from './helpers/paths.js'
import { until } from './helpers/waiting.js'

/** countedRun over elements 0..n-1 (`ms[i]`: how long element i waits), its runs in `dir`/runs.txt. */
function counted(ex: Pick<SlurmExecutor, 'mapArray'>, dir: string, ms: number[]) {
  return ex.mapArray(
    countedRun,
    ms.map(() => dir),
    ms.map((_, i) => i),
    ms,
  )
}
const zeros = (n: number) => Array.from({ length: n }, () => 0)

function setup(t: { testdir: () => string }, params: object = {}, folderName = 'logs/%j') {
  const dir = t.testdir()
  const slurm = fakeSlurm(dir)
  const folder = path.join(dir, folderName)
  const ex = new SlurmExecutor({ folder, commands: slurm.commands, maxArraySize: 1000, ...params })
  return { dir, slurm, folder, ex }
}

t.test('chunkSize: n consecutive elements per Slurm array task; every element keeps its own id', async (t) => {
  const { dir, slurm, ex } = setup(t, { chunkSize: 4 })
  const jobs = await counted(ex, dir, zeros(10))
  t.same(
    jobs.map((j) => j.jobId),
    Array.from({ length: 10 }, (_, i) => `1000_${i}`),
  )
  t.ok(slurm.sbatchArgs(1000).includes('--array=0-2') || /#SBATCH --array=0-2$/m.test(slurm.script(1000)), 'three Slurm array tasks')
  t.match(slurm.script(1000), /^export SUBMITIT_PACK=4$/m)
  t.match(slurm.script(1000), /slurm-%A_%a\.out/, "the pack's own log, not element k's")
  t.notMatch(slurm.script(1000), /_%t_log\.out/, 'no per-element log from srun')
  t.equal(jobs[5].state, 'PENDING')
})

t.test('a pack runs its elements, each with its own result, logs and failure; the other packs wait', async (t) => {
  const { dir, slurm, folder, ex } = setup(t, { chunkSize: 4 })
  const n = 16
  const jobs = await counted(ex, dir, zeros(n))
  const r = slurm.runOnNode(folder, '1000', 3, { SUBMITIT_PACK: '4', SLURM_CPUS_PER_TASK: '2' })
  t.equal(r.status, 1, `a failed element makes the pack's exit 1: ${r.stderr}`)
  t.same(
    runsIn(dir).sort((a, b) => a - b),
    [12, 13, 14, 15],
    'pack 3 ran elements 12..15 only',
  )
  t.equal(await jobs[12].result(), 24)
  t.equal(await jobs[15].result(), 30)
  const e = await jobs[13].result().catch((err: Error) => err)
  t.type(e, FailedJobError)
  t.match(String(e), /element 13 fails on purpose/)
  t.match(jobs[14].stdout() ?? '', /^element 14 runs\n$/, "an element's log holds its own output only")
  t.equal(jobs[0].state, 'PENDING', 'elements of a pack that has not run')
})

t.test('exactly once: a rerun of a pack (requeued) runs only the elements without a result', async (t) => {
  const { dir, slurm, folder, ex } = setup(t, { chunkSize: 5 })
  const jobs = await counted(ex, dir, [0, 0, 1500, 1500, 1500])
  // the first run is killed (a node failure) once elements 0 and 1 are done, during element 2
  const env = slurm.nodeEnv('1000', 0, { SUBMITIT_PACK: '5', SLURM_CPUS_PER_TASK: '1' })
  const first = spawn(process.execPath, [WORKER_MAIN, folder], { env, stdio: 'ignore' })
  await until(() => fs.existsSync(jobs[1].paths.resultFile(0)), 60_000, 'elements 0 and 1 done')
  first.kill('SIGKILL')
  await new Promise((r) => first.on('exit', r))
  const r = slurm.runOnNode(folder, '1000', 0, { SUBMITIT_PACK: '5', SLURM_CPUS_PER_TASK: '1', SLURM_RESTART_COUNT: '1' })
  t.equal(r.status, 0, r.stderr)
  const runs = runsIn(dir)
  for (const i of [0, 1]) t.equal(runs.filter((x) => x === i).length, 1, `element ${i}, done before the kill, ran once`)
  for (const i of [3, 4]) t.equal(runs.filter((x) => x === i).length, 1, `element ${i}, not reached before the kill, ran once`)
  t.same(await Promise.all(jobs.map((j) => j.result())), [0, 2, 4, 6, 8])
})

t.test('cancelling one element of a pack: CANCELLED at once, the pack skips it; a pack with nothing left is scancelled', async (t) => {
  const { dir, slurm, folder, ex } = setup(t, { chunkSize: 2 })
  const jobs = await counted(ex, dir, zeros(4))
  await jobs[1].cancel()
  t.equal(jobs[1].state, 'CANCELLED', 'at once, while its pack waits')
  t.same(slurm.cancelled(), [], 'its pack still has element 0 to run')
  await jobs[2].cancel()
  await jobs[3].cancel()
  t.same(slurm.cancelled(), ['1000_1'], 'pack 1 has nothing left: scancelled')
  const r = slurm.runOnNode(folder, '1000', 0, { SUBMITIT_PACK: '2' })
  t.equal(r.status, 0, r.stderr)
  t.same(runsIn(dir), [0], 'element 1 was skipped')
  t.equal(await jobs[0].result(), 0)
  const e = await jobs[1].result().catch((err: Error) => err)
  t.type(e, FailedJobError)
  t.equal((e as FailedJobError).state, 'CANCELLED')
})

t.test('cancelling a running element of a pack stops it; the others go on', async (t) => {
  const { dir, slurm, folder, ex } = setup(t, { chunkSize: 3 })
  const jobs = await counted(ex, dir, [60_000, 0, 0])
  const env = slurm.nodeEnv('1000', 0, { SUBMITIT_PACK: '3', SLURM_CPUS_PER_TASK: '2' })
  const node = spawn(process.execPath, [WORKER_MAIN, folder], { env, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  node.stderr.on('data', (d: Buffer) => {
    stderr += String(d)
  })
  const exited = new Promise<number | null>((r) => node.on('exit', (code) => r(code)))
  await until(() => runsIn(dir).includes(0), 60_000, 'element 0 started')
  await jobs[0].cancel()
  t.equal(await exited, 0, stderr)
  t.same(runsIn(dir).sort(), [0, 1, 2])
  t.equal(jobs[0].state, 'CANCELLED')
  t.same(await Promise.all([jobs[1].result(), jobs[2].result()]), [2, 4])
})

t.test('re-attach to a packed element from another process: its state and result', async (t) => {
  const { dir, slurm, folder, ex } = setup(t, { chunkSize: 2 })
  const jobs = await counted(ex, dir, zeros(3))
  slurm.runOnNode(folder, '1000', 1, { SUBMITIT_PACK: '2' })
  const attached = attachJob<number>(folder, jobs[2].jobId)
  t.equal(await attached.result(), 4)
  t.equal(attachJob(folder, jobs[0].jobId).state, 'PENDING')
  t.match(attachJob(folder, '1000_3').reason ?? '', /does not exist: array 1000 has elements 1000_0\.\.1000_2/)
})

t.test("chunkSize 'auto' and what is refused", async (t) => {
  const { dir, slurm, ex } = setup(t, { chunkSize: 'auto', arrayParallelism: 3 })
  const jobs = await counted(ex, dir, zeros(10))
  t.equal(jobs.length, 10)
  t.match(slurm.script(1000), /^export SUBMITIT_PACK=4$/m, '10 elements over 3 array tasks: packs of 4')
  t.throws(() => new SlurmExecutor({ folder: path.join(dir, 'x'), chunkSize: 'big' as unknown as number }), ParameterError)
  t.throws(() => new SlurmExecutor({ folder: path.join(dir, 'x'), chunkSize: 0 }), ParameterError)
  t.throws(() => new SlurmExecutor({ folder: path.join(dir, 'x'), chunkSize: 2, tasksPerNode: 2 }), /cannot be combined with nodes or tasksPerNode/)
  // without arrayParallelism: as many packs as the partition runs at once (sinfo: 8 CPUs / 2 per task)
  const { dir: dir2, slurm: slurm2, ex: ex2 } = setup(t, { chunkSize: 'auto', cpusPerTask: 2 }, 'logs2/%j')
  await counted(ex2, dir2, zeros(10))
  t.match(slurm2.script(1000), /^export SUBMITIT_PACK=3$/m, '10 elements over 4 slots: packs of 3')
  const { dir: dir3, slurm: slurm3, ex: ex3 } = setup(t, { chunkSize: 'auto' }, 'logs3/%j')
  slurm3.write('sinfo.fail', '1')
  await counted(ex3, dir3, zeros(200))
  t.match(slurm3.script(1000), /^export SUBMITIT_PACK=4$/m, 'sinfo failing: 64 packs (200 elements: packs of 4)')
  const single = await ex.submit(countedRun, dir, 0, 0)
  t.notMatch(slurm.script(1001), /SUBMITIT_PACK/, 'a single job is never packed')
  t.equal(single.jobId, '1001')
})

t.test('AutoExecutor: chunkSize is generic; on Slurm it packs, locally the chunks are sized as always', async (t) => {
  const { dir } = setup(t)
  const slurm = new AutoExecutor({ folder: path.join(dir, 'auto-slurm'), cluster: 'slurm', chunkSize: 8, slurmArrayParallelism: 2 })
  t.equal((slurm.executor as unknown as { params: { chunkSize?: number } }).params.chunkSize, 8)
  const local = new AutoExecutor({ folder: path.join(dir, 'auto-local'), cluster: 'local', chunkSize: 8 })
  const jobs = await local.mapArray(countedRun, [dir, dir, dir], [0, 1, 2], [0, 0, 0])
  t.same(await Promise.all(jobs.map((j) => j.result())), [0, 2, 4])
  await local.shutdown()
  t.throws(() => new AutoExecutor({ folder: path.join(dir, 'x'), cluster: 'local', chunkSize: -1 }), /chunkSize/)
})

t.test('a packed element has one result: the first writer wins, a later one (its run after its cancel) changes nothing', async (t) => {
  const { dir, ex } = setup(t, { chunkSize: 2 })
  const [job] = await counted(ex, dir, zeros(2))
  await job.cancel()
  const before = fs.readFileSync(job.paths.resultFile(0))
  const sub = readSubmission(job.paths.submitted)
  const late = writeResultFile(sub, job.paths.resultFile(0), 0, 0, [{ state: 'COMPLETED', value: 0 }], false, undefined, true)
  t.same({ written: late.written, existed: late.existed }, { written: false, existed: true })
  t.same(fs.readFileSync(job.paths.resultFile(0)), before, 'the CANCELLED result stands')
  t.same(
    fs.readdirSync(path.dirname(job.paths.resultFile(0))).filter((f) => f.includes('.tmp')),
    [],
    'no temporary file left',
  )
  t.equal(job.state, 'CANCELLED')
})
