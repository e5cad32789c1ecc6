import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { batchIds, commandPath, sacct, sbatch, scancel, scontrolShowConfig, squeue } from '../dist/lib/slurm/commands.js'
import { FailedSubmissionError, SlurmCommandError } from '../dist/lib/slurm/errors.js'
import { fakeSlurm } from './helpers/fake-slurm.js'

t.test('commandPath: explicit bin, bin dir, env var, PATH', async (t) => {
  t.equal(commandPath('sacct', { bin: { sacct: '/x/sacct' }, binDir: '/y' }), '/x/sacct')
  t.equal(commandPath('sacct', { binDir: '/y' }), '/y/sacct')
  t.equal(commandPath('squeue', { env: { SUBMITIT_SLURM_BIN_DIR: '/z' } }), '/z/squeue')
  t.equal(commandPath('squeue', { env: {} }), 'squeue')
})

t.test('batchIds keeps each joined list under the limit', async (t) => {
  t.same(batchIds([]), [])
  t.same(batchIds(['1', '2', '3']), [['1', '2', '3']])
  t.same(batchIds(['11', '22', '33', '44'], 5), [
    ['11', '22'],
    ['33', '44'],
  ])
  t.same(batchIds(['123456'], 3), [['123456']], 'an id longer than the limit still goes alone')
  const ids = Array.from({ length: 10_000 }, (_, i) => String(1_000_000 + i))
  const batches = batchIds(ids)
  t.equal(batches.flat().length, ids.length)
  t.ok(batches.every((b) => b.join(',').length <= 32_000))
  t.equal(batches.length, Math.ceil((ids.length * 8 - 1) / 32_000))
})

t.test('sbatch returns the id and records the script and args', async (t) => {
  const f = fakeSlurm(t.testdir())
  const script = join(f.state, 'job.sh')
  writeFileSync(script, '#!/bin/bash\necho hi\n')
  const id = await sbatch(script, ['--output=/a b/%j.out', "--job-name=it's"], f.state, f.commands)
  t.equal(id, '1000')
  t.equal(await sbatch(script, [], undefined, f.commands), '1001')
  t.equal(readFileSync(join(f.state, 'jobs', '1000.args'), 'utf8'), "--parsable\n--output=/a b/%j.out\n--job-name=it's\n")
  t.equal(readFileSync(join(f.state, 'jobs', '1000.sh'), 'utf8'), '#!/bin/bash\necho hi\n')
  t.equal(readFileSync(join(f.state, 'jobs', '1000.cwd'), 'utf8').trim(), f.state)
})

t.test('sbatch failure → FailedSubmissionError with stderr and command', async (t) => {
  const f = fakeSlurm(t.testdir())
  const msg = 'sbatch: error: invalid partition specified: nosuch\nsbatch: error: Batch job submission failed: Invalid partition name specified\n'
  f.write('sbatch.fail', msg)
  const err = (await sbatch('/nope.sh', ['-p', 'nosuch'], undefined, f.commands).catch((e: unknown) => e)) as FailedSubmissionError
  t.ok(err instanceof FailedSubmissionError)
  t.ok(err instanceof SlurmCommandError)
  t.equal(err.exitCode, 1)
  t.equal(err.stderr, msg.trim())
  t.same(err.command.slice(1), ['--parsable', '-p', 'nosuch', '/nope.sh'])
  t.match(err.message, /Invalid partition name specified/)
  const missing = (await sbatch('/x.sh', [], undefined, { bin: { sbatch: '/does/not/exist' } }).catch((e: unknown) => e)) as Error
  t.ok(missing instanceof FailedSubmissionError)
  t.match(missing.message, /ENOENT|not found|exist/i)
})

t.test('sacct / squeue / scancel / scontrol through the fakes', async (t) => {
  const f = fakeSlurm(t.testdir())
  f.write('sacct.txt', '5|COMPLETED|0:0\n5.batch|COMPLETED|0:0\n6_[0-2]|PENDING|0:0\n7|RUNNING|0:0\n')
  f.write('squeue.txt', '5|COMPLETED|None\n6_0|PENDING|Priority\n')
  t.equal(await sacct(['5', '6'], f.commands), '5|COMPLETED|0:0\n6_[0-2]|PENDING|0:0')
  t.equal(await sacct([], f.commands), '')
  t.equal(await squeue(['6'], f.commands), '6_0|PENDING|Priority')
  t.equal(await squeue(['99'], f.commands), '', "'Invalid job id specified' means: not known any more")
  await scancel(['5', '6_1'], f.commands)
  t.equal(readFileSync(join(f.state, 'cancelled'), 'utf8'), '5\n6_1\n')
  t.match(await scontrolShowConfig(f.commands), /MaxArraySize\s+= 1001/)
  t.same(f.calls(), [
    'sacct -X -n -P -o JobID\\,State\\,ExitCode\\,Reason -j 5\\,6',
    'squeue -h -t all -r -o %i\\|%T\\|%r -j 6',
    'squeue -h -t all -r -o %i\\|%T\\|%r -j 99',
    'scancel 5 6_1',
    'scontrol show config',
  ])
  f.write('sacct.fail', 'sacct: error: Slurm accounting storage is disabled\n')
  const err = (await sacct(['5'], f.commands).catch((e: unknown) => e)) as SlurmCommandError
  t.ok(err instanceof SlurmCommandError)
  t.match(err.stderr, /accounting storage is disabled/)
})

t.test('many ids: several calls only when needed', async (t) => {
  const f = fakeSlurm(t.testdir())
  const ids = Array.from({ length: 30 }, (_, i) => String(100 + i))
  await sacct(ids, f.commands)
  t.equal(f.calls().length, 1)
  await sacct(ids, { ...f.commands, maxIdsLength: 40 })
  t.equal(f.calls().length, 1 + Math.ceil((30 * 4 - 1) / 40))
})
