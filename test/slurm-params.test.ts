import t from 'tap'
import { kebabCase, sbatchFlags, SLURM_PARAMETER_NAMES, validateSlurmParameters } from '../dist/lib/slurm/params.js'

t.test('unknown name: clear error with the closest name and every valid name', async (t) => {
  const err = t.throws(() => validateSlurmParameters({ timeout_min: 5 })) as Error
  t.match(err.message, /Unknown Slurm parameter "timeout_min"/)
  t.match(err.message, /did you mean "timeoutMin"/)
  for (const name of SLURM_PARAMETER_NAMES) t.ok(err.message.includes(name), `lists ${name}`)
  t.match((t.throws(() => validateSlurmParameters({ cpus_per_task: 2 })) as Error).message, /did you mean "cpusPerTask"/)
  t.match((t.throws(() => validateSlurmParameters({ partiton: 'x' })) as Error).message, /did you mean "partition"/)
  t.match((t.throws(() => validateSlurmParameters({ gpus_per_node: 1 })) as Error).message, /did you mean "gpusPerNode"/)
})

t.test('wrong types are rejected with the expected type', async (t) => {
  t.throws(() => validateSlurmParameters({ nodes: 1.5 }), /nodes must be a positive integer/)
  t.throws(() => validateSlurmParameters({ nodes: '2' }), /nodes must be a positive integer/)
  t.throws(() => validateSlurmParameters({ memGb: -1 }), /memGb must be a positive number/)
  t.throws(() => validateSlurmParameters({ memPerCpu: '4 GB' }), /memPerCpu must be a number of MB or a size string/)
  t.throws(() => validateSlurmParameters({ setup: 'echo hi' }), /setup must be an array of strings/)
  t.throws(() => validateSlurmParameters({ useSrun: 'yes' }), /useSrun must be a boolean/)
  t.throws(() => validateSlurmParameters({ additionalParameters: { x: [1] } }), /additionalParameters must be an object/)
  t.throws(() => validateSlurmParameters({ additionalParameters: { 'bad key': 1 } }), /not a valid flag name/)
  t.throws(() => validateSlurmParameters({ jobName: 'a\nb' }), /newline/)
  t.throws(() => validateSlurmParameters({ setup: ['ok', 'x\ny'] }), /newline/)
  t.throws(() => validateSlurmParameters(null), /must be an object/)
  t.throws(() => validateSlurmParameters({ memGb: 2, memPerCpu: 100 }), /mutually exclusive/)
})

t.test('valid values pass; undefined values are dropped; arrays are copied', async (t) => {
  const setup = ['module load node']
  const v = validateSlurmParameters({ nodes: 2, jobName: undefined, setup, gpusPerNode: 'a100:2', memPerGpu: '16G', exclusive: 'user' })
  t.same(v, { nodes: 2, setup: ['module load node'], gpusPerNode: 'a100:2', memPerGpu: '16G', exclusive: 'user' })
  t.not(v.setup, setup)
})

t.test('sbatchFlags', async (t) => {
  t.same(
    sbatchFlags({
      jobName: 'train',
      partition: 'gpu',
      timeoutMin: 90,
      nodes: 2,
      tasksPerNode: 4,
      cpusPerTask: 10,
      gpusPerNode: 4,
      memGb: 3.5,
      qos: 'high',
      account: 'proj',
      constraint: 'volta32gb',
      exclude: 'node[1-3]',
      comment: 'a comment',
      exclusive: true,
      dependency: 'afterok:12',
      mailType: 'END,FAIL',
      mailUser: 'me@example.org',
      wckey: 'w',
      signalDelayS: 90,
      // not flags:
      setup: ['x'],
      useSrun: true,
      arrayParallelism: 4,
      stderrToStdout: true,
    }),
    [
      '--job-name=train',
      '--partition=gpu',
      '--time=90',
      '--nodes=2',
      '--ntasks-per-node=4',
      '--cpus-per-task=10',
      '--gpus-per-node=4',
      '--mem=3584M',
      '--qos=high',
      '--account=proj',
      '--constraint=volta32gb',
      '--exclude=node[1-3]',
      '--comment=a comment',
      '--exclusive',
      '--dependency=afterok:12',
      '--mail-type=END,FAIL',
      '--mail-user=me@example.org',
      '--wckey=w',
      '--signal=USR2@90',
    ],
  )
})

t.test('sbatchFlags: units, signal without srun, exclusive forms', async (t) => {
  t.same(sbatchFlags({ memPerCpu: 2048 }), ['--mem-per-cpu=2048M'])
  t.same(sbatchFlags({ memPerGpu: '4g' }), ['--mem-per-gpu=4G'])
  t.same(sbatchFlags({ timeoutMin: 1.2 }), ['--time=2'])
  t.same(sbatchFlags({ signalDelayS: 120, useSrun: false }), ['--signal=B:USR2@120'])
  t.same(sbatchFlags({ exclusive: false }), [])
  t.same(sbatchFlags({ exclusive: 'user' }), ['--exclusive=user'])
  t.same(sbatchFlags({ gpusPerTask: 'a100:1', cpusPerGpu: 8, gres: 'gpu:2', nodelist: 'vm' }), [
    '--gpus-per-task=a100:1',
    '--cpus-per-gpu=8',
    '--nodelist=vm',
    '--gres=gpu:2',
  ])
  t.same(sbatchFlags({}), [])
})

t.test('additionalParameters: kebab-cased, merged last, override, booleans', async (t) => {
  t.same(
    sbatchFlags({
      partition: 'a',
      timeoutMin: 5,
      additionalParameters: { partition: 'b', openMode: 'append', begin_time: 'now+1hour', requeue: true, hold: false, priority: 5 },
    }),
    ['--time=5', '--partition=b', '--open-mode=append', '--begin-time=now+1hour', '--requeue', '--priority=5'],
  )
  t.equal(kebabCase('cpusPerTask'), 'cpus-per-task')
  t.equal(kebabCase('mem_per_cpu'), 'mem-per-cpu')
  t.equal(kebabCase('already-kebab'), 'already-kebab')
})

t.test('sbatchFlags validates too', async (t) => {
  t.throws(() => sbatchFlags({ nodez: 1 } as never), /did you mean "nodes"/)
})
