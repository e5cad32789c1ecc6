// Against the real cluster: what happens at submit (requests Slurm refuses, folders with ids).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { FailedSubmissionError } from '../dist/lib/index.js'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { add, chatty } from '../dist/fixtures/tasks.js'
import { needsCluster } from './slurm-cluster.js'

const skip = needsCluster(t)
const opts = { ...skip, timeout: 240_000 }

t.test("a request Slurm cannot satisfy fails at submit with sbatch's reason, whatever the folder", opts, async (t) => {
  for (const folder of [path.join(t.testdir(), 'flat'), path.join(t.testdir(), 'runs', '%j')]) {
    const ex = new SlurmExecutor({ folder, timeoutMin: 5, memGb: 100000 })
    const e = await ex.submit(add, 1, 2).then(
      () => null,
      (err: Error) => err,
    )
    t.type(e, FailedSubmissionError, folder)
    t.match(e?.message ?? '', /Memory specification can not be satisfied/)
    const arr = await ex.mapArray(add, [1, 2], [3, 4]).then(
      () => null,
      (err: Error) => err,
    )
    t.type(arr, FailedSubmissionError, `${folder}: an array too`)
  }
})

t.test('a folder with ids per task rank (%j/%t): made by the job, each rank logs in its own', opts, async (t) => {
  const dir = t.testdir()
  const root = path.join(dir, `o'dd %%x`)
  const ex = new SlurmExecutor({ folder: path.join(root, '%j', 'rank%t'), timeoutMin: 5, tasksPerNode: 2, setup: ['echo setup-line'] })
  const job = await ex.submit(chatty, 7)
  t.same(await job.results(), [7, 7])
  t.equal(job.stdout(0), 'setup-line\nout 7\n', "the batch shell's output and rank 0's in rank 0's log")
  t.equal(job.stdout(1), 'out 7\n')
  t.match(job.paths.stdout(1), /\/rank1\//)
  t.ok(fs.existsSync(path.join(dir, `o'dd %x`, `slurm-${job.jobId}.out`)), "Slurm's own log beside the job's folder")
})

t.test('defaults as submitit: 5 minutes, one node, SIGUSR2 90 s before the end', opts, async (t) => {
  const folder = path.join(t.testdir(), 'logs')
  const job = await new SlurmExecutor({ folder }).submit(add, 1, 2)
  const shown = execFileSync('scontrol', ['show', 'job', '-o', job.jobId], { encoding: 'utf8' })
  t.match(shown, /TimeLimit=00:05:00/)
  t.match(shown, /NumNodes=1\b/)
  t.match(fs.readFileSync(path.join(folder, `${job.jobId}_submission.sh`), 'utf8'), /^#SBATCH --signal=USR2@90$/m)
  t.equal(await job.result(), 3)
})
