// One parameter schema for every backend (issue 9, item 4): names, values and the rules between
// parameters are checked at updateParameters, as ParameterErrors, on every executor and through
// AutoExecutor; one "did you mean" for all; the backends' generic mappings are data.
import t from 'tap'
import { AutoExecutor, DebugExecutor, getBackend, LocalExecutor, ParameterError, SlurmExecutor } from '../dist/lib/index.js'

t.test('a rule between Slurm parameters fails at updateParameters as a ParameterError, not at submit', async (t) => {
  const folder = t.testdir()
  const ex = new SlurmExecutor({ folder, commands: { env: process.env }, memGb: 4 })
  t.teardown(() => ex.shutdown())
  const e = t.throws(() => ex.updateParameters({ memPerCpu: 1024 })) as Error
  t.type(e, ParameterError)
  t.match(e.message, /memGb and memPerCpu are mutually exclusive.*unset all but one/)
  t.same(ex.parameters, { memGb: 4 }, 'nothing applied')
  ex.updateParameters({ memGb: null, memPerCpu: 1024 })
  t.same(ex.parameters, { memPerCpu: 1024 }, 'unsetting one and setting the other in one update is fine: the merged set is checked')
  t.throws(() => new SlurmExecutor({ folder, commands: { env: process.env }, memPerGpu: '4G', memPerCpu: '1G' }), ParameterError, 'the constructor too')
  // through AutoExecutor: a generic memGb with a Slurm-only memPerCpu
  const auto = () => new AutoExecutor({ folder, cluster: 'slurm', memGb: 2, slurmMemPerCpu: 512 })
  t.throws(auto, /memGb and memPerCpu are mutually exclusive/)
  const onLaptop = new AutoExecutor({ folder, cluster: 'local', localMaxWorkers: 1, memGb: 2, slurmMemPerCpu: 512 })
  t.teardown(() => onLaptop.shutdown())
  t.equal(onLaptop.cluster, 'local', 'a Slurm-only clash does not matter on another cluster')
})

t.test('values the schemas refuse, with what they must be', async (t) => {
  const folder = t.testdir()
  const ex = new LocalExecutor({ folder, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ timeoutMin: Number.NaN }, /timeoutMin must be a positive number of minutes, got NaN/],
    [{ timeoutMin: Infinity }, /timeoutMin must be a positive number of minutes, got Infinity/],
    [{ timeoutMin: '5' }, /timeoutMin must be a positive number of minutes, got "5"/],
    [{ maxWorkers: 2.5 }, /maxWorkers must be a positive integer, got 2.5/],
    [{ maxNumTimeout: 256 }, /maxNumTimeout must be an integer from 0 to 255, got 256/],
    [{ isolation: 'Process' }, /isolation must be 'thread' or 'process', got "Process"/],
    [{ memGb: 0 }, /memGb must be a positive number of GB, got 0/],
    [{ setup: 'echo hi' }, /setup must be an array of strings, got "echo hi"/],
    [{ setup: ['ok', 3] }, /setup must be an array of strings/],
    [{ stderrToStdout: 1 }, /stderrToStdout must be a boolean, got 1/],
    [{ tasksPerNode: { n: 1 } }, /tasksPerNode must be a positive integer, got \{"n":1\}/],
  ]
  for (const [params, message] of cases) {
    const e = t.throws(() => ex.updateParameters(params as never), JSON.stringify(params)) as Error
    t.type(e, ParameterError)
    t.match(e.message, message)
  }
  t.same(ex.parameters, { maxWorkers: 1 }, 'none applied')
  for (const bad of [null, [1], 'timeoutMin=5']) {
    t.throws(() => ex.updateParameters(bad as never), /updateParameters takes an object of parameters/, `${JSON.stringify(bad)} is not parameters`)
  }
  t.same(ex.updateParameters({}).parameters, { maxWorkers: 1 }, 'an empty update changes nothing')
  t.throws(() => new SlurmExecutor({ folder, commands: { env: process.env }, jobName: 'a\nb' }), /Slurm parameter jobName must not contain a newline/)
  t.throws(
    () => new SlurmExecutor({ folder, commands: { env: process.env }, gpusPerNode: -1 }),
    /Slurm parameter gpusPerNode must be a positive integer or a string/,
  )
  t.throws(() => new SlurmExecutor({ folder, commands: { env: process.env }, additionalParameters: { 'bad key': 1 } }), /additionalParameters key "bad key"/)
})

t.test('one "did you mean" for every backend: case, snake_case and kebab-case forgiven, far names not guessed', async (t) => {
  const folder = t.testdir()
  const local = new LocalExecutor({ folder, maxWorkers: 1 })
  t.teardown(() => local.shutdown())
  const slurm = new SlurmExecutor({ folder, commands: { env: process.env } })
  t.teardown(() => slurm.shutdown())
  const debug = new DebugExecutor({ folder })
  for (const [ex, what] of [
    [local, 'local'],
    [slurm, 'slurm'],
    [debug, 'debug'],
  ] as const) {
    for (const typo of ['timeout_min', 'TIMEOUTMIN', 'timeout-min', 'timeoutMn']) {
      t.match((t.throws(() => ex.updateParameters({ [typo]: 1 } as never)) as Error).message, /did you mean "timeoutMin"\?/, `${what}: ${typo}`)
    }
    t.notMatch((t.throws(() => ex.updateParameters({ qwertyuiop: 1 } as never)) as Error).message, /did you mean/, `${what}: nothing close`)
  }
  t.match(
    (t.throws(() => slurm.updateParameters({ partiton: 'gpu', nodez: 1 } as never)) as Error).message,
    /"partiton" \(did you mean "partition"\?\), "nodez" \(did you mean "nodes"\?\)/,
  )
  // submitit's AutoExecutor names (slurm_partition), or ours (slurmPartition), given to a SlurmExecutor
  for (const prefixed of ['slurm_partition', 'slurmPartition', 'slurm_array_parallelism']) {
    t.match(
      (t.throws(() => slurm.updateParameters({ [prefixed]: 1 } as never)) as Error).message,
      prefixed === 'slurm_array_parallelism' ? /did you mean "arrayParallelism"\?/ : /did you mean "partition"\?/,
      prefixed,
    )
  }
  t.match((t.throws(() => local.updateParameters({ local_max_workers: 2 } as never)) as Error).message, /did you mean "maxWorkers"\?/)
  t.notMatch((t.throws(() => slurm.updateParameters({ slurm_qwertyuiop: 1 } as never)) as Error).message, /did you mean/, 'nothing close')
})

t.test("AutoExecutor's generic mapping is each backend's data", async (t) => {
  const mapping = (name: string) =>
    Object.fromEntries(
      Object.entries(getBackend(name)!.parameters.specs)
        .filter(([, s]) => s.generic)
        .map(([own, s]) => [s.generic, own]),
    )
  t.same(mapping('slurm'), {
    name: 'jobName',
    timeoutMin: 'timeoutMin',
    nodes: 'nodes',
    tasksPerNode: 'tasksPerNode',
    cpusPerTask: 'cpusPerTask',
    gpusPerNode: 'gpusPerNode',
    memGb: 'memGb',
    stderrToStdout: 'stderrToStdout',
    chunkSize: 'chunkSize',
    maxNumTimeout: 'maxNumTimeout',
  })
  t.same(mapping('local'), { timeoutMin: 'timeoutMin', tasksPerNode: 'tasksPerNode', nodes: 'nodes', memGb: 'memGb', maxNumTimeout: 'maxNumTimeout' })
  t.same(mapping('debug'), { tasksPerNode: 'tasksPerNode', nodes: 'nodes' })
  const folder = t.testdir()
  const ex = new AutoExecutor({ folder, cluster: 'local', localMaxWorkers: 1, localIsolation: 'process', localSetup: ['export A=1'], memGb: 1 })
  t.teardown(() => ex.shutdown())
  t.same(ex.executor.parameters, { maxWorkers: 1, isolation: 'process', setup: ['export A=1'], memGb: 1 }, 'every local parameter has its prefixed name')
  const e = t.throws(() => ex.updateParameters({ localIsolation: null })) as Error
  t.type(e, ParameterError, 'setup lines without a process of their own: the rule, through AutoExecutor too')
  t.match(e.message, /setup lines run before a job's own process: they need isolation: 'process'/)
  t.equal((ex.executor.parameters as { isolation?: string }).isolation, 'process', 'nothing applied')
  ex.updateParameters({ localIsolation: null, localSetup: null })
  t.same(ex.executor.parameters, { maxWorkers: 1, memGb: 1 }, 'both unset at once: fine')
})
