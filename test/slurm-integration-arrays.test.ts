// Against the real cluster: large arrays, one array job each, split when larger than MaxArraySize
// (.ci/run starts the cluster with MaxArraySize=120). In a file of their own: they take most of a
// minute each on a loaded 2-core machine (a Node worker per element).
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import t from 'tap'
import { SlurmExecutor } from '../dist/lib/slurm/executor.js'
import { square } from '../dist/fixtures/tasks.js'
import { needsCluster } from './slurm-cluster.js'

const skip = needsCluster(t)
const opts = { ...skip, timeout: 280_000 }
const maxArraySize = () => Number(/MaxArraySize\s*=\s*(\d+)/.exec(execFileSync('scontrol', ['show', 'config'], { encoding: 'utf8' }))![1])

t.test('mapArray of 50 is one array job, results in order', opts, async (t) => {
  const ex = new SlurmExecutor({ folder: path.join(t.testdir(), 'logs'), timeoutMin: 5 })
  const xs = Array.from({ length: 50 }, (_, i) => i)
  const jobs = await ex.mapArray(square, xs)
  t.equal(jobs.length, 50)
  const ids = new Set(jobs.map((j) => j.jobId.split('_')[0]))
  t.equal(ids.size, 1, 'one array id')
  t.same(
    jobs.map((j) => j.jobId.split('_')[1]),
    xs.map(String),
    'indices 0..49',
  )
  t.same(
    await Promise.all(jobs.map((j) => j.result())),
    xs.map((x) => x * x),
  )
  // sacct trails the result files (seconds on a loaded machine): wait for it, boundedly
  let out = ''
  for (let i = 0; i < 120 && !/_49\|COMPLETED/.test(out); i++) {
    if (i) await new Promise((r) => setTimeout(r, 500))
    out = execFileSync('sacct', ['-X', '-n', '-P', '-o', 'JobID,State', '-j', [...ids][0]], { encoding: 'utf8' })
  }
  t.match(out, /_49\|COMPLETED/, 'sacct knows the last element')
})

const max = skip.skip ? 0 : maxArraySize()
const bigMax = max > 400 ? `MaxArraySize is ${max}: start the cluster with npm run slurm:start (MaxArraySize=120) to test splitting` : undefined
t.test('an array larger than MaxArraySize is split into several arrays, transparently', { ...opts, skip: opts.skip ?? bigMax }, async (t) => {
  const n = max + 7
  const ex = new SlurmExecutor({ folder: path.join(t.testdir(), 'logs'), timeoutMin: 5 })
  const xs = Array.from({ length: n }, (_, i) => i)
  const jobs = await ex.mapArray(square, xs)
  const arrays = [...new Set(jobs.map((j) => j.jobId.split('_')[0]))]
  t.equal(arrays.length, 2, `two arrays for ${n} elements`)
  t.equal(jobs.filter((j) => j.jobId.startsWith(`${arrays[1]}_`)).length, 7)
  t.same(
    await Promise.all(jobs.map((j) => j.result())),
    xs.map((x) => x * x),
    'results in the order submitted',
  )
})
