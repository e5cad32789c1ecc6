// submitit parity, helpers: cleanEnv (clean_env) and the function sequence (FunctionSequence),
// checkpointable: resumed at the first call not done.
import t from 'tap'
import { cleanEnv, delayed, DebugExecutor, functionSequence, LocalExecutor, runSequence } from '../dist/lib/index.js'
import { checkpointOf } from '../dist/lib/core/task.js'
import { gatedTriple, gateReached, openGate, triple, tripleCalls } from '../dist/fixtures/parity-tasks.js'
import { fails } from '../dist/fixtures/tasks.js'
import { until } from './helpers/waiting.js'

const cluster = () =>
  Object.keys(process.env)
    .filter((k) => /^(SLURM_|SUBMITIT_)/.test(k))
    .sort()

t.test('cleanEnv hides the SLURM_* and SUBMITIT_* variables while fn runs, and puts them back', async (t) => {
  const base = cluster()
  Object.assign(process.env, { SLURM_BLUBLU: '12', SUBMITIT_BLUBLU: '12', SBATCH_PARTITION: 'gpu', MASTER_PORT: '42', BLABLA: '314' })
  t.teardown(() => {
    for (const k of ['SLURM_BLUBLU', 'SUBMITIT_BLUBLU', 'SBATCH_PARTITION', 'MASTER_PORT', 'BLABLA']) delete process.env[k]
  })
  t.equal(cluster().length, base.length + 2)
  const inside = cleanEnv(() => ({ cluster: cluster(), sbatch: process.env.SBATCH_PARTITION, port: process.env.MASTER_PORT, other: process.env.BLABLA }))
  t.same(inside, { cluster: [], sbatch: undefined, port: undefined, other: '314' }, "as submitit's clean_env")
  t.equal(cluster().length, base.length + 2, 'restored')
  t.equal(process.env.SBATCH_PARTITION, 'gpu')
  t.equal(
    cleanEnv(() => process.env.BLABLA, { extraNames: ['BLABLA'] }),
    undefined,
    'extraNames',
  )
  t.equal(process.env.BLABLA, '314')

  t.throws(
    () =>
      cleanEnv(() => {
        throw new Error('boom')
      }),
    /boom/,
  )
  t.equal(process.env.SLURM_BLUBLU, '12', 'restored when fn throws')

  let during: string[] = []
  const p = cleanEnv(async () => {
    await new Promise((r) => setTimeout(r, 10))
    during = cluster()
    throw new Error('later')
  })
  t.equal(process.env.SLURM_BLUBLU, undefined, 'an async fn: still clean until it settles')
  await t.rejects(p, /later/)
  t.same(during, [])
  t.equal(process.env.SLURM_BLUBLU, '12', 'restored once it settled, rejected as it was')
  t.equal(await cleanEnv(async () => 5), 5)
})

t.test('a function sequence runs its calls in one job, results in order', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const seq = await functionSequence([delayed(triple, 4), delayed(triple, 5), delayed(triple, 6)])
  const [job] = await ex.submitArray([seq])
  t.same(await job.result(), [12, 15, 18])
  const spread = await ex.submit(seq.fn, ...seq.args)
  t.same(await spread.result(), [12, 15, 18], 'or spread into submit()')
  t.equal((await spread.submission()).task.exportName, 'runSequence')

  const debug = new DebugExecutor({ folder: `${folder}/debug/%j` })
  const failing = await debug.submitArray([await functionSequence([delayed(triple, 1), delayed(fails, 'second call')])])
  t.match((await failing[0].exception())?.message, /second call/, 'a failing call fails the job with its error')
  t.same(await (await debug.submitArray([await functionSequence([])]))[0].result(), [], 'an empty sequence')
})

t.test('its checkpoint resumes at the first call not done, with the same final results', async (t) => {
  // the way worker/main.ts does on SIGUSR2: checkpoint(...the running task's arguments)
  const seq = await functionSequence([delayed(triple, 7), delayed(gatedTriple, 8), delayed(triple, 9)])
  const args = seq.args as Parameters<typeof runSequence>
  const checkpoint = checkpointOf(runSequence)!
  t.ok(checkpoint, 'runSequence is checkpointable')
  tripleCalls.clear()
  const first = runSequence(...args)
  await until(gateReached, 10_000, 'the second call to start')
  const resume = (await checkpoint(...args)) as Parameters<typeof runSequence>
  t.equal(resume[0], args[0], 'the same calls')
  t.same(resume[1], [21], 'the results so far: the first call is done')
  openGate()
  t.same(await first, [21, 24, 27], 'the interrupted run would have ended with these')

  // the requeued job runs with the checkpoint's arguments (after a round trip through v8, as on disk)
  const [calls, done] = structuredClone(resume)
  tripleCalls.clear()
  t.same(await runSequence(calls, done), [21, 24, 27], 'the same final results')
  t.equal(tripleCalls.get(7), undefined, 'the call done before the checkpoint is not run again')
  t.equal(tripleCalls.get(9), 1, 'the calls not done are run')
  t.same(await checkpoint(calls, [21]), [calls, [21, 24, 27]], 'a checkpoint after the end gives every result')
})
