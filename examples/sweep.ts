// The same script on a laptop and on a cluster: AutoExecutor picks Slurm when sbatch is there
// (or SUBMITIT_CLUSTER=local|slurm|debug says which), else the LocalExecutor.
//   node dist/examples/sweep.js [folder]
import { AutoExecutor } from '../lib/index.js'
import { train } from './tasks.js'

const executor = new AutoExecutor({
  folder: process.argv[2] ?? 'logs/sweep/%j',
  timeoutMin: 5,
  slurmPartition: process.env.SLURM_PARTITION,
  localMaxWorkers: 2,
})
const lrs = [0.01, 0.05, 0.1, 0.2, 0.3]
const jobs = await executor.mapArray(
  train,
  lrs,
  lrs.map(() => 20),
)
const results = await Promise.all(jobs.map((job) => job.result()))
const best = results.reduce((a, b) => (b.loss < a.loss ? b : a))
console.log(`cluster=${executor.cluster} jobs=${jobs.length} best lr=${best.lr} loss=${best.loss.toExponential(3)}`)
