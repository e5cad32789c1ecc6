// The backend registry (plugin seam), as submitit's plugin tests: the built-in backends are listed,
// a third-party backend registered through the public API alone (fixtures/fake-pbs.ts) runs jobs
// through AutoExecutor, is picked by detection, re-attached and read by the command line; bad
// definitions (clashing or malformed names, broken schemas, a check that throws) are refused.
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import {
  AutoExecutor,
  attachJob,
  BackendError,
  type BackendDefinition,
  BUILTIN_BACKENDS,
  detectCluster,
  Executor,
  getBackend,
  listBackends,
  LocalExecutor,
  ParameterError,
  registerBackend,
  unregisterBackend,
} from '../dist/lib/index.js'
import { add, fails } from '../dist/fixtures/tasks.js'
import { distPath } from './helpers/paths.js'
import { plainEnv, runNode } from './helpers/processes.js'
import { rejection } from './helpers/waiting.js'

/** Runs fn with the environment variable set (or removed), restoring it after. */
function withEnv<T>(name: string, value: string | undefined, fn: () => T): T {
  const before = process.env[name]
  if (value === undefined) delete process.env[name]
  else process.env[name] = value
  try {
    return fn()
  } finally {
    if (before === undefined) delete process.env[name]
    else process.env[name] = before
  }
}

const minimal = (name: string, extra: Partial<BackendDefinition> = {}): BackendDefinition => ({
  name,
  createExecutor: ({ folder }) => new LocalExecutor({ folder }) as unknown as Executor<object>,
  parameters: { specs: {} },
  ...extra,
})

t.test('the built-in backends are listed explicitly, without importing their modules', async (t) => {
  t.same(
    listBackends().map((b) => b.name),
    ['debug', 'local', 'slurm'],
    'debug, local, slurm: registered by the public entry point alone',
  )
  t.same(
    BUILTIN_BACKENDS.map((b) => b.name),
    ['debug', 'local', 'slurm'],
  )
  for (const b of BUILTIN_BACKENDS) {
    t.equal(getBackend(b.name)?.name, b.name)
    t.type(b.parameters.specs, 'object', `${b.name} declares its parameters as data`)
  }
  t.ok(getBackend('slurm')?.attach, 'Slurm says how to watch its jobs from another process')
  t.ok(getBackend('slurm')?.refresh, 'and how to ask the scheduler once for all of them')
  t.throws(() => unregisterBackend('slurm'), BackendError, 'a built-in backend cannot be unregistered')
  t.equal(getBackend('nosuch'), undefined)
})

t.test('bad definitions are refused with a BackendError, and nothing is registered', async (t) => {
  const before = listBackends().map((b) => b.name)
  const refused: [string, unknown, RegExp][] = [
    ['a clashing built-in name', minimal('slurm'), /backend "slurm".*built-in backend of that name is registered already/],
    ['upper case', minimal('PBS'), /lower case letters and digits/],
    ['a dash', minimal('my-pbs'), /lower case letters and digits/],
    ['empty', minimal(''), /lower case letters and digits/],
    ['not a string', { ...minimal('x'), name: 3 }, /lower case letters and digits/],
    ['a prefix of a generic name', minimal('mem'), /read the generic parameter memGb as its parameter "gb"/],
    ['another one', minimal('cpus'), /cpusPerTask/],
    ['no createExecutor', { name: 'pbs', parameters: { specs: {} } }, /no createExecutor/],
    ['isAvailable not a function', minimal('pbs', { isAvailable: true as never }), /isAvailable must be a function/],
    ['no schema', { ...minimal('pbs'), parameters: undefined }, /parameters must be a schema/],
    ['an unknown kind', minimal('pbs', { parameters: { specs: { queue: { kind: 'text' as never } } } }), /queue has no known kind/],
    ['a generic name that is not one', minimal('pbs', { parameters: { specs: { q: { kind: 'string', generic: 'partition' as never } } } }), /not one/],
    [
      'two parameters for one generic name',
      minimal('pbs', { parameters: { specs: { a: { kind: 'posNumber', generic: 'timeoutMin' }, b: { kind: 'posNumber', generic: 'timeoutMin' } } } }),
      /a and b both stand for the generic timeoutMin/,
    ],
    ['a refusal of no parameter', minimal('pbs', { parameters: { specs: {}, refuses: { timeoutMin: 'no' } } }), /refuses timeoutMin, which is not one/],
    ['a snake_case parameter', minimal('pbs', { parameters: { specs: { wall_time: { kind: 'string' } } } }), /not a camelCase name/],
    ['null', null, /must be an object/],
  ]
  for (const [what, definition, message] of refused) {
    const e = t.throws(() => registerBackend(definition as BackendDefinition), what) as Error
    t.type(e, BackendError, what)
    t.match(e.message, message, what)
  }
  t.same(
    listBackends().map((b) => b.name),
    before,
    'the registry is unchanged',
  )
  t.equal(getBackend('slurm'), BUILTIN_BACKENDS[2], 'the built-in slurm entry is still the one')
})

t.test('a plugin whose isAvailable throws is skipped with a warning, not a crash', async (t) => {
  registerBackend(minimal('broken', { isAvailable: () => JSON.parse('{') as boolean, priority: 100 }))
  t.teardown(() => unregisterBackend('broken'))
  const warnings: Error[] = []
  const listener = (w: Error) => warnings.push(w)
  process.on('warning', listener)
  t.teardown(() => process.off('warning', listener))
  const cluster = withEnv('SUBMITIT_CLUSTER', undefined, () => withEnv('PATH', '/nonexistent', () => detectCluster()))
  t.equal(cluster, 'local', 'the highest-priority available one: local (no sbatch on this PATH)')
  await new Promise((r) => setImmediate(r))
  t.match(warnings.map((w) => w.message).join('\n'), /isAvailable\(\) of backend "broken" threw, so it is taken as unavailable: .*JSON/)
  // named explicitly, it is used whatever its check says
  const ex = new AutoExecutor({ folder: t.testdir(), cluster: 'broken' })
  t.equal(ex.cluster, 'broken')
  await ex.shutdown()
  t.equal(unregisterBackend('broken'), true)
  t.equal(unregisterBackend('broken'), false, 'twice: it was not there any more')
  t.throws(
    () => new AutoExecutor({ folder: t.testdir(), cluster: 'broken' }),
    /cluster "broken" is not a cluster AutoExecutor knows; valid ones: debug, local, slurm/,
  )
})

t.test('a third-party backend registered through the public API runs jobs through AutoExecutor', async (t) => {
  const { fakePbsBackend } = await import('../dist/fixtures/fake-pbs.js')
  t.equal(getBackend('fakepbs'), getBackend('fakepbs'), 'registered by importing its module')
  t.doesNotThrow(() => registerBackend(fakePbsBackend), 'the same entry again (a module loaded twice) is fine')
  t.throws(() => registerBackend({ ...fakePbsBackend }), /"fakepbs": a backend of that name is registered already/, 'another entry with its name is not')

  const folder = path.join(t.testdir(), 'logs', '%j')
  const ex = new AutoExecutor<{ fakepbsQueue?: string | null; fakepbsWalltimeMin?: number | null }>({
    folder,
    cluster: 'fakepbs',
    timeoutMin: 30,
    cpusPerTask: 2,
    fakepbsQueue: 'express',
    slurmPartition: 'ignored here',
  })
  t.same(ex.executor.parameters, { queue: 'express', walltimeMin: 30, ncpus: 2 }, 'generic names mapped from its schema, its own prefixed')
  t.type(ex.executor, Executor)

  const job = await ex.submit(add, 20, 22)
  t.equal(await job.result(), 42, 'the job ran in the plugin scheduler')
  t.equal(job.state, 'COMPLETED')
  const jobs = await ex.mapArray(add, [1, 2, 3], [10, 20, 30])
  t.same(await Promise.all(jobs.map((j) => j.result())), [11, 22, 33], 'an array too')
  const failed = await ex.submit(fails, 'plugin says no')
  const e = await rejection(failed.result())
  t.match(e.message, /plugin says no/, "a task's failure comes back as on every backend")

  // re-attached from its folder: the registry's attach of the backend its submission names
  const again = attachJob<number>(folder, job.jobId)
  t.equal(again.state, 'COMPLETED')
  t.equal(await again.result(), 42)
  t.equal(await attachJob<number>(folder, jobs[2].jobId).result(), 33)

  // its parameters: checked from its schema, the rule between them at updateParameters
  const bad = t.throws(() => ex.updateParameters({ fakepbsWalltimeMin: 90 })) as Error
  t.type(bad, ParameterError)
  t.match(bad.message, /express queue takes jobs of at most 60 min, not walltimeMin 90/)
  t.same(ex.executor.parameters, { queue: 'express', walltimeMin: 30, ncpus: 2 }, 'a refused update changes nothing')
  t.throws(() => ex.updateParameters({ fakepbsQueue: 'fast' }), /fakepbs parameter queue must be 'short' or 'long' or 'express', got "fast"/)
  const typo = t.throws(() => ex.updateParameters({ fakepbsQeue: 'long', fakepbsNcpu: 2 } as never)) as Error
  t.match(typo.message, /"fakepbsQeue" \(did you mean "fakepbsQueue"\?\), "fakepbsNcpu" \(did you mean "fakepbsNcpus"\?\)/)
  t.throws(() => ex.updateParameters({ fakepbsTimeoutMin: -1 } as never), /AutoExecutor parameter timeoutMin cannot be -1 \(given as fakepbsTimeoutMin\)/)
  ex.updateParameters({ fakepbsQueue: null, timeoutMin: 90 })
  t.same(ex.executor.parameters, { queue: 'short', walltimeMin: 90, ncpus: 2 }, 'null: back to its default; then 90 min is fine')
  // the other clusters take its prefixed names (a script written for it runs on a laptop)
  const local = new AutoExecutor({ folder: t.testdir(), cluster: 'local', localMaxWorkers: 1, fakepbsQueue: 'long' } as never)
  t.same(local.executor.parameters, { maxWorkers: 1 }, "ignored on another cluster, as slurm's are")
  await local.shutdown()
  await ex.shutdown()
})

t.test('detection picks an available plugin by priority; SUBMITIT_CLUSTER names it', async (t) => {
  await import('../dist/fixtures/fake-pbs.js')
  withEnv('SUBMITIT_CLUSTER', undefined, () => {
    t.equal(
      withEnv('FAKE_PBS_AVAILABLE', '1', () => detectCluster()),
      'fakepbs',
      'its check says yes, and its priority (20) is over Slurm (10) and local (0)',
    )
    t.not(
      withEnv('FAKE_PBS_AVAILABLE', undefined, () => detectCluster()),
      'fakepbs',
      'its check says no',
    )
  })
  t.equal(
    withEnv('SUBMITIT_CLUSTER', 'fakepbs', () => new AutoExecutor({ folder: t.testdir() }).cluster),
    'fakepbs',
  )
  t.throws(
    () => withEnv('SUBMITIT_CLUSTER', 'FakePBS', () => detectCluster()),
    /did you mean "fakepbs"\? names are lower case.*valid ones: debug, local, slurm, fakepbs/,
  )
})

t.test("the command line reads a plugin's jobs once SUBMITIT_PLUGINS loads it, and says what to do without it", async (t) => {
  await import('../dist/fixtures/fake-pbs.js')
  const root = t.testdir()
  const folder = path.join(root, 'logs')
  const ex = new AutoExecutor({ folder, cluster: 'fakepbs' })
  const job = await ex.submit(add, 2, 3)
  t.equal(await job.result(), 5)
  const cli = distPath('lib/cli.js')
  const plugin = distPath('fixtures/fake-pbs.js')
  const withPlugin = await runNode([cli, 'result', folder, job.jobId, '--json'], { env: plainEnv({ SUBMITIT_PLUGINS: plugin }) })
  t.equal(withPlugin.code, 0, withPlugin.stderr)
  t.match(withPlugin.stdout, /5/)
  const status = await runNode([cli, 'status', folder, job.jobId], { env: plainEnv({ SUBMITIT_PLUGINS: ` ${plugin} ,` }) })
  t.equal(status.code, 0, status.stderr)
  t.match(status.stdout, /COMPLETED/)
  const without = await runNode([cli, 'status', folder, job.jobId], { env: plainEnv({ SUBMITIT_PLUGINS: '' }) })
  t.equal(without.code, 1)
  t.match(without.stderr, /backend "fakepbs", which is not registered in this process \(registered: debug, local, slurm\).*registerBackend/)
  const missing = await runNode([cli, 'status', folder, job.jobId], { env: plainEnv({ SUBMITIT_PLUGINS: './no/such/plugin.js' }) })
  t.equal(missing.code, 2)
  t.match(missing.stderr, /SUBMITIT_PLUGINS: cannot load the plugin "\.\/no\/such\/plugin\.js"/)
  t.ok(fs.existsSync(folder))
})
