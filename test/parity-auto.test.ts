// submitit parity, AutoExecutor: every generic parameter can be overridden per cluster (submitit's
// _equivalence_dict), a misspelled cluster throws, every bad name is reported at once, null unsets,
// stderrToStdout reaches the LocalExecutor.
import t from 'tap'
import { AutoExecutor, detectCluster, ParameterError } from '../dist/lib/index.js'
import { chatty } from '../dist/fixtures/tasks.js'

/** Runs fn with SUBMITIT_CLUSTER set to value, restoring it after. */
function withCluster<T>(value: string, fn: () => T): T {
  const before = process.env.SUBMITIT_CLUSTER
  process.env.SUBMITIT_CLUSTER = value
  try {
    return fn()
  } finally {
    if (before === undefined) delete process.env.SUBMITIT_CLUSTER
    else process.env.SUBMITIT_CLUSTER = before
  }
}

t.test('generic parameters can be overridden per cluster, prefixed ones win', async (t) => {
  const folder = t.testdir()
  const slurm = new AutoExecutor({
    folder,
    cluster: 'slurm',
    timeoutMin: 60,
    slurmTimeoutMin: 120,
    tasksPerNode: 2,
    slurmTasksPerNode: 3,
    slurmNodes: 2,
    name: 'n',
    slurmJobName: 'own',
  })
  t.teardown(() => slurm.shutdown())
  t.same(slurm.executor.parameters, { timeoutMin: 120, tasksPerNode: 3, nodes: 2, jobName: 'own' }, "as submitit's test_overriden_arguments")
  slurm.updateParameters({ slurmTimeoutMin: null })
  t.equal((slurm.executor.parameters as { timeoutMin?: number }).timeoutMin, 60, 'unsetting the override falls back to the generic value')
  slurm.updateParameters({ timeoutMin: null })
  t.equal((slurm.executor.parameters as { timeoutMin?: number }).timeoutMin, undefined, 'and unsetting that unsets it')
  slurm.updateParameters({ memGb: 2, name: 'machin', debugNodes: 4, localMaxWorkers: 3 })
  t.same(slurm.executor.parameters, { tasksPerNode: 3, nodes: 2, jobName: 'own', memGb: 2 }, "other clusters' parameters are ignored")

  const local = new AutoExecutor({
    folder,
    cluster: 'local',
    timeoutMin: 60,
    localTimeoutMin: 5,
    slurmTimeoutMin: 120,
    localNodes: 1,
    localTasksPerNode: 2,
    localMaxWorkers: 1,
  })
  t.teardown(() => local.shutdown())
  t.same(local.executor.parameters, { maxWorkers: 1, timeoutMin: 5, nodes: 1, tasksPerNode: 2 })

  const debug = new AutoExecutor({ folder, cluster: 'debug', timeoutMin: 60, debugTasksPerNode: 2, memGb: 3, gpusPerNode: 1 })
  t.same(debug.executor.parameters, { tasksPerNode: 2 }, 'timeoutMin, memGb, gpusPerNode mean nothing on debug: left out')
  t.throws(
    () => new AutoExecutor({ folder, cluster: 'debug', debugTimeoutMin: 3 } as never),
    /unknown AutoExecutor parameter "debugTimeoutMin"/,
    'a timeout given for the debug cluster alone is refused, not ignored',
  )
})

t.test('values common in submitit configs: gpusPerNode 0, memGb null, nothing set', async (t) => {
  const folder = t.testdir()
  for (const cluster of ['slurm', 'local', 'debug'] as const) {
    const ex = new AutoExecutor({ folder, cluster, gpusPerNode: 0, memGb: null, timeoutMin: undefined, cpusPerTask: null, name: undefined })
    t.teardown(() => ex.shutdown())
    const own = { ...ex.executor.parameters } as Record<string, unknown>
    delete own.maxWorkers
    t.same(own, {}, `${cluster}: accepted, nothing set`)
    ex.updateParameters({ gpusPerNode: 2, memGb: 4 })
    ex.updateParameters({ gpusPerNode: 0, memGb: null })
    t.notOk('gpusPerNode' in ex.executor.parameters || 'memGb' in ex.executor.parameters, `${cluster}: 0 GPUs and memGb null remove the earlier values`)
  }
  const slurm = new AutoExecutor({ folder, cluster: 'slurm', slurmGpusPerNode: 0, slurmMemGb: null })
  t.teardown(() => slurm.shutdown())
  t.same(slurm.executor.parameters, {}, 'prefixed too')
})

t.test('a misspelled cluster throws, listing the valid ones', async (t) => {
  const folder = t.testdir()
  const e = t.throws(() => new AutoExecutor({ folder, cluster: 'slurn' as never })) as Error
  t.type(e, ParameterError)
  t.match(e.message, /cluster "slurn" is not a cluster AutoExecutor knows; valid ones: debug, local, slurm/)
  withCluster('Local', () => {
    t.throws(() => detectCluster(), /SUBMITIT_CLUSTER "Local" .*did you mean "local"\? names are lower case.*valid ones: debug, local, slurm/)
    t.throws(() => new AutoExecutor({ folder }), /SUBMITIT_CLUSTER "Local"/, 'never silently another cluster')
  })
  withCluster('lcoal', () => t.throws(() => new AutoExecutor({ folder }), /SUBMITIT_CLUSTER "lcoal" is not a cluster/))
  withCluster('debug', () => t.equal(new AutoExecutor({ folder }).cluster, 'debug', 'a valid value is used'))
  withCluster('', () => t.match(detectCluster(), /^(local|slurm)$/, 'empty: detected'))
})

t.test('every bad name in one error; generic values checked on every cluster', async (t) => {
  const folder = t.testdir()
  const ex = new AutoExecutor({ folder, cluster: 'local', localMaxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const e = t.throws(() => ex.updateParameters({ timeout: 3, slurmPartitio: 'gpu', lcoalMaxWorkers: 2, memGb: 2 } as never)) as Error
  t.type(e, ParameterError)
  t.match(
    e.message,
    /unknown AutoExecutor parameters "timeout".*"slurmPartitio" \(did you mean "slurmPartition"\?\).*"lcoalMaxWorkers" \(did you mean "localMaxWorkers"\?\); valid ones:/,
    'as submitit, which lists every invalid one',
  )
  t.notOk('memGb' in (ex as unknown as { params: object }).params, 'nothing applied')
  t.throws(() => ex.updateParameters({ memGb: '2.0GB' } as never), /memGb cannot be "2.0GB"/, "submitit's test: a wrong type, even where memGb is ignored")
  t.throws(() => ex.updateParameters({ slurmTasksPerNode: 1.5 }), /tasksPerNode cannot be 1.5/, 'prefixed generic values too')
  t.throws(() => ex.updateParameters({ gpusPerNode: -1 }), ParameterError)
})

t.test('stderrToStdout on the local cluster is honoured, not ignored', async (t) => {
  const folder = t.testdir()
  const ex = new AutoExecutor({ folder: `${folder}/%j`, cluster: 'local', localMaxWorkers: 1, stderrToStdout: true })
  t.teardown(() => ex.shutdown())
  const job = await ex.submit(chatty, 1)
  await job.wait()
  t.equal(job.stderr(), null)
  t.equal(job.stdout(), 'out 1\nerr 1\n')
  ex.updateParameters({ stderrToStdout: null })
  const apart = await ex.submit(chatty, 2)
  await apart.wait()
  t.equal(apart.stderr(), 'err 2\n', 'unset: stderr has its own file again')
})

t.test('batch() takes its options through AutoExecutor', async (t) => {
  const folder = t.testdir()
  const ex = new AutoExecutor({ folder: `${folder}/%j`, cluster: 'debug' })
  const jobs = await ex.batch(
    async () => {
      const job = await ex.submit(chatty, 3)
      t.equal(await job.result(), 3, 'allowImplicitSubmissions: awaiting inside the batch submits it')
    },
    { allowImplicitSubmissions: true },
  )
  t.same(jobs, [])
})

t.test("maxNumTimeout is generic: Slurm's and the LocalExecutor's, ignored on debug (submitit's AutoExecutor(max_num_timeout=))", async (t) => {
  const folder = t.testdir()
  const slurm = new AutoExecutor({ folder, cluster: 'slurm', maxNumTimeout: 22 })
  t.teardown(() => slurm.shutdown())
  t.same(slurm.executor.parameters, { maxNumTimeout: 22 }, 'as submitit, which takes it for slurm_max_num_timeout')
  const local = new AutoExecutor({ folder, cluster: 'local', localMaxWorkers: 1, maxNumTimeout: 5 })
  t.teardown(() => local.shutdown())
  t.equal((local.executor.parameters as { maxNumTimeout?: number }).maxNumTimeout, 5, 'the LocalExecutor requeues from checkpoints too')
  local.updateParameters({ localMaxNumTimeout: 1 })
  t.equal((local.executor.parameters as { maxNumTimeout?: number }).maxNumTimeout, 1, 'the prefixed one wins')
  const other = new AutoExecutor({ folder, cluster: 'local', localMaxWorkers: 1, slurmMaxNumTimeout: 22 })
  t.teardown(() => other.shutdown())
  t.notOk('maxNumTimeout' in other.executor.parameters, "another cluster's is ignored, as submitit's test_executor_argument")
  const debug = new AutoExecutor({ folder, cluster: 'debug', maxNumTimeout: 2 })
  t.same(debug.executor.parameters, {}, 'no time limit on debug: ignored')
  t.throws(() => new AutoExecutor({ folder, cluster: 'local', maxNumTimeout: -1 }), /AutoExecutor parameter maxNumTimeout cannot be -1/)
})
