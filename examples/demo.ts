// The main job, on the LocalExecutor: a hyper-parameter sweep of 300 runs as one mapArray.
// Change LocalExecutor to AutoExecutor and the same code runs as a Slurm job array.
import { LocalExecutor } from '../lib/index.js'
import { cli } from '../lib/cli.js'
import { train } from './tasks.js'

const executor = new LocalExecutor({ folder: 'logs/%j', timeoutMin: 5 })
const lrs = Array.from({ length: 300 }, (_, i) => 0.001 * (i + 1))
const epochs = lrs.map(() => 50)

const t0 = performance.now()
const jobs = await executor.mapArray(train, lrs, epochs)
console.log(`submitted ${jobs.length} jobs as array ${jobs[0].jobId.split('_')[0]} (files in ${jobs[0].paths.arrayFolder})`)
const results = await Promise.all(jobs.map((job) => job.result()))
const ms = performance.now() - t0

const best = results.reduce((a, b) => (b.loss < a.loss ? b : a))
console.log('\n  lr      loss')
for (const r of results.filter((_, i) => i % 30 === 0)) console.log(`  ${r.lr.toFixed(3)}   ${r.loss.toExponential(3)}`)
console.log(`\nbest: lr=${best.lr.toFixed(3)} loss=${best.loss.toExponential(3)}`)
console.log(
  `${jobs.length} jobs done in ${ms.toFixed(0)} ms (${Math.round(jobs.length / (ms / 1000))} jobs/s); ` +
    `first job's stdout: ${JSON.stringify(jobs[0].stdout())}`,
)

// where to look next: the array's report, and the command line on the same folder
const arrayId = jobs[0].paths.arrayId
await cli(
  ['report', 'logs/%j', arrayId, '--html', 'logs/report.html'],
  () => {},
  (s) => console.error(s),
)
console.log(`\nreport of the array: logs/report.html (open it in a browser)`)
console.log(`try: npx submitit-ts list 'logs/%j'     (then: npx submitit-ts status 'logs/%j' ${arrayId})`)
