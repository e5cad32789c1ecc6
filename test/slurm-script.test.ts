import t from 'tap'
import { spawn } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { escapeSlurmPattern, logPattern, makeBatchScript, shellQuote, staticPrefix, templateWord } from '../dist/lib/slurm/script.js'
import { FIXTURES } from './helpers/paths.js'

const golden = join(FIXTURES, 'golden')
const NASTY = `/tmp/sub mit/it's "odd" %x $HOME \`id\`'; echo foo`

t.test('shellQuote survives bash for nasty strings', async (t) => {
  const samples = ['plain', '', "it's", `a"b`, '$HOME `id` $(id)', "'; echo foo", 'new\nline', '\\back\\slash', '*?[a]', '-n', ' spaced ', '%j%%']
  for (const s of samples) {
    const { stdout } = await execa('bash', ['-c', `printf '%s' ${shellQuote(s)}`], { stripFinalNewline: false })
    t.equal(stdout, s, JSON.stringify(s))
  }
  t.equal(shellQuote('/usr/bin/node'), '/usr/bin/node', 'safe words stay readable')
  t.equal(shellQuote("it's"), `'it'\\''s'`)
})

t.test('Slurm % patterns', async (t) => {
  t.equal(escapeSlurmPattern('/a/100%/b%j'), '/a/100%%/b%%j')
  t.equal(logPattern('/f%x/', true, 'out'), '/f%%x/%A_%a_%t_log.out')
  t.equal(logPattern('/f', false, 'err'), '/f/%j_%t_log.err')
  t.equal(logPattern('/f/%A_%a%%', true, 'out', true), '/f/%A_%a%%/%A_%a_%t_log.out', 'a folder that is already a pattern is kept')
  const { sbatchArgs } = makeBatchScript({ params: {}, folder: '/logs/%j', folderIsPattern: true, command: ['x'] })
  t.same(sbatchArgs, ['--output=/logs/%j/%j_%t_log.out', '--error=/logs/%j/%j_%t_log.err', '--open-mode=append'])
})

const nastyOptions = {
  params: {
    jobName: "it's a job",
    partition: 'debug',
    timeoutMin: 30,
    nodes: 1,
    tasksPerNode: 2,
    cpusPerTask: 1,
    memGb: 3.5,
    comment: 'a b "c"',
    constraint: 'x86',
    signalDelayS: 90,
    setup: ['echo setup-line', 'export FROM_SETUP=1'],
    teardown: ['echo teardown-line'],
    srunArgs: ['--cpu-bind=none'],
    additionalParameters: { requeue: true, openMode: 'append' },
  },
  folder: NASTY,
  array: { size: 10, parallelism: 3 },
  command: ['/usr/bin/node', '/opt/sub mit/dist/worker/main.js', NASTY, "arg with 'quote'"],
  env: { SUBMITIT_FOLDER: NASTY, PLAIN: 'x' },
}

t.test('golden script for many parameters and a nasty folder', async (t) => {
  const { script, sbatchArgs } = makeBatchScript(nastyOptions)
  const text = `${script}\n# ---- sbatchArgs (JSON) ----\n${JSON.stringify(sbatchArgs, null, 2)}\n`
  const file = join(golden, 'slurm-script-nasty.txt')
  if (process.env.UPDATE_GOLDEN) writeFileSync(file, text)
  t.equal(text, readFileSync(file, 'utf8'), 'matches fixtures/golden/slurm-script-nasty.txt (UPDATE_GOLDEN=1 to rewrite)')
  t.ok(sbatchArgs.includes(`--output=${NASTY.replace('%', '%%')}/%A_%a_%t_log.out`))
  t.ok(sbatchArgs.includes(`--job-name=it's a job`), 'values #SBATCH cannot hold go on the command line')
  t.match(script, /^#SBATCH --array=0-9%3$/m)
  t.match(script, /^#SBATCH --signal=USR2@90$/m)
  const { stdout } = await execa('bash', ['-n'], { input: script })
  t.equal(stdout, '', 'bash -n accepts it')
})

t.test('single job, no srun, stderr to stdout, parallelism from params', async (t) => {
  const { script, sbatchArgs } = makeBatchScript({
    params: { stderrToStdout: true, useSrun: false },
    folder: '/logs',
    command: ['node', 'w.js'],
  })
  t.same(sbatchArgs, ['--output=/logs/%j_%t_log.out', '--error=/logs/%j_%t_log.out', '--open-mode=append'])
  t.match(script, /^#SBATCH --job-name=submitit$/m, 'default job name')
  t.notMatch(script, /srun/)
  t.notMatch(script, /--array/)
  t.match(script, /^\s+node w\.js &$/m, 'in the background, so that the batch shell can forward the end-of-job warning')
  t.match(script, /^#SBATCH --signal=B:USR2@90$/m, 'the warning by default, to the batch shell without srun')
  const arr = makeBatchScript({ params: { arrayParallelism: 5 }, folder: '/l', command: ['x'], array: { size: 2 } })
  t.match(arr.script, /^#SBATCH --array=0-1%5$/m)
})

t.test('defaults as submitit: one node, 5 minutes, SIGUSR2 90 s before the end; each can be set', async (t) => {
  const plain = makeBatchScript({ params: {}, folder: '/logs', command: ['x'] }).script
  t.match(plain, /^#SBATCH --job-name=submitit$/m)
  t.match(plain, /^#SBATCH --nodes=1$/m)
  t.match(plain, /^#SBATCH --time=5$/m)
  t.match(plain, /^#SBATCH --signal=USR2@90$/m)
  const set = makeBatchScript({ params: { nodes: 2, timeoutMin: 60, signalDelayS: 300 }, folder: '/logs', command: ['x'] }).script
  t.match(set, /^#SBATCH --nodes=2$/m)
  t.match(set, /^#SBATCH --time=60$/m)
  t.match(set, /^#SBATCH --signal=USR2@300$/m)
  const extra = makeBatchScript({ params: { additionalParameters: { time: '1-00:00:00', signal: 'USR1@60' } }, folder: '/logs', command: ['x'] }).script
  t.match(extra, /^#SBATCH --time=1-00:00:00$/m, 'additionalParameters win')
  t.notMatch(extra, /--time=5/)
  t.match(extra, /^#SBATCH --signal=USR1@60$/m)
})

t.test('bad inputs are refused', async (t) => {
  const base = { params: {}, folder: '/ok', command: ['x'] }
  t.throws(() => makeBatchScript({ ...base, folder: 'relative' }), /absolute/)
  t.throws(() => makeBatchScript({ ...base, folder: '/a\\b' }), /backslash/)
  t.throws(() => makeBatchScript({ ...base, folder: '/a\nb' }), /newline/)
  t.throws(() => makeBatchScript({ ...base, command: [] }), /at least one/)
  t.throws(() => makeBatchScript({ ...base, array: { size: 0 } }), /array.size/)
  t.throws(() => makeBatchScript({ ...base, env: { 'A-B': '1' } }), /environment variable name/)
  t.throws(() => makeBatchScript({ ...base, params: { nodez: 1 } as never }), /did you mean "nodes"/)
})

/** Run a generated script with bash, with a fake srun on PATH that drops its own options. */
function tempBin(): string {
  const dir = mkdtempSync(join(tmpdir(), 'submitit-script-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const srun = join(dir, 'srun')
  writeFileSync(srun, '#!/bin/bash\nprintf "srun-opt:%s\\n" "$@" >> "$SRUN_LOG"\nwhile [[ "$1" == --* ]]; do shift; done\nexec "$@"\n')
  chmodSync(srun, 0o755)
  return dir
}

t.test('the generated script runs: quoting, env, setup, teardown, exit code kept', async (t) => {
  const bin = tempBin()
  const { script } = makeBatchScript({
    params: { setup: ['echo setup-line'], teardown: ['echo teardown-line'], srunArgs: ['--cpu-bind=none'] },
    folder: NASTY,
    command: ['/bin/bash', '-c', 'printf "arg:%s\\n" "$@"; echo "env:$MYVAR"; exit 3', 'x', NASTY, "it's"],
    env: { MYVAR: "v'al $HOME" },
  })
  const r = await execa('bash', ['-s'], { input: script, reject: false, env: { PATH: `${bin}:${process.env.PATH}`, SRUN_LOG: join(bin, 'log') } })
  t.equal(r.exitCode, 3)
  t.equal(r.stdout, ['setup-line', `arg:${NASTY}`, "arg:it's", "env:v'al $HOME", 'teardown-line'].join('\n'))
  const srunOpts = readFileSync(join(bin, 'log'), 'utf8').split('\n')
  t.ok(srunOpts.includes(`srun-opt:--output=${NASTY.replace('%', '%%')}/%j_%t_log.out`), 'srun gets the escaped log pattern')
  t.ok(srunOpts.includes('srun-opt:--open-mode=append'))
  t.ok(srunOpts.includes('srun-opt:--cpu-bind=none'))
})

t.test('a setup line that fails ends the job before the worker runs, naming the line (as locally)', async (t) => {
  const bin = tempBin()
  const { script } = makeBatchScript({
    params: { setup: ['export FROM_SETUP="it\'s set"', 'cd /', 'false', 'echo never'] },
    folder: '/logs',
    command: ['/bin/bash', '-c', 'echo worker-ran'],
  })
  const r = await execa('bash', ['-s'], { input: script, reject: false, env: { PATH: `${bin}:${process.env.PATH}`, SRUN_LOG: join(bin, 'log') } })
  t.equal(r.exitCode, 1, "the line's status")
  t.match(r.stderr, 'submitit-ts batch: setup line 3 of 4, "false", exited with status 1: the job does not run')
  t.notMatch(r.stdout, /never|worker-ran/, 'nothing after it ran')

  const ok = makeBatchScript({
    params: { setup: ['export FROM_SETUP="it\'s set"', 'cd /tmp'] },
    folder: '/logs',
    command: ['/bin/bash', '-c', 'echo "$FROM_SETUP in $PWD"'],
  })
  const r2 = await execa('bash', ['-s'], { input: ok.script, reject: false, env: { PATH: `${bin}:${process.env.PATH}`, SRUN_LOG: join(bin, 'log') } })
  t.equal(r2.exitCode, 0, r2.stderr)
  t.equal(r2.stdout, "it's set in /tmp", 'what the lines export and where they cd, the worker sees')
})

t.test('without srun, a signal to the batch shell is forwarded to the worker', async (t) => {
  const { script } = makeBatchScript({
    params: { useSrun: false, signalDelayS: 60, teardown: ['echo teardown-line'] },
    folder: '/logs',
    command: ['/bin/bash', '-c', 'trap "echo worker-got-usr2; exit 7" USR2; echo ready; while :; do sleep 0.05; done'],
  })
  t.match(script, /^#SBATCH --signal=B:USR2@60$/m)
  const child = spawn('bash', ['-s'], { stdio: ['pipe', 'pipe', 'inherit'] })
  child.stdin.end(script)
  let out = ''
  const done = new Promise<number | null>((resolve) => child.on('exit', resolve))
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (d: Buffer) => {
      out += String(d)
      if (out.includes('ready')) resolve()
    }),
  )
  child.kill('SIGUSR2')
  const code = await done
  t.equal(code, 7, "the worker's exit code is the script's")
  t.match(out, /worker-got-usr2\nteardown-line/)
})

t.test('folders with ids: staticPrefix, templateWord', async (t) => {
  t.equal(staticPrefix('/logs/run_%j/x'), '/logs')
  t.equal(staticPrefix('/a/100%%/%A/%t'), '/a/100%%')
  t.equal(staticPrefix('/logs/plain'), '/logs/plain')
  t.equal(templateWord('/a b/%j/%t', true, 1), `'/a b/'"\${SLURM_ARRAY_JOB_ID}_\${SLURM_ARRAY_TASK_ID}"/1`)
  t.equal(templateWord('/x/%A_%a%%', false, 0), `/x/"\${SLURM_JOB_ID}"_''%`)
})

t.test("a folder with ids: the script makes it and logs there; Slurm's own log goes beside it", async (t) => {
  const bin = tempBin()
  const dir = mkdtempSync(join(tmpdir(), 'submitit-folders-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const template = join(dir, `it's "odd" %%x`, '%j', 'rank%t')
  const { script, sbatchArgs } = makeBatchScript({
    params: { setup: ['echo setup-line', 'echo setup-err >&2'], tasksPerNode: 2 },
    folder: join(dir, `it's "odd" %%x`, '%A_%a', 'rank%t'),
    folderIsPattern: true,
    array: { size: 4 },
    makeFolders: { template, numTasks: 2 },
    command: ['/bin/bash', '-c', 'echo worker-line'],
  })
  t.same(sbatchArgs.slice(0, 2), [`--output=${dir}/it's "odd" %%x/slurm-%A_%a.out`, `--error=${dir}/it's "odd" %%x/slurm-%A_%a.out`])
  const r = await execa('bash', ['-s'], {
    input: script,
    reject: false,
    env: { PATH: `${bin}:${process.env.PATH}`, SRUN_LOG: join(bin, 'log'), SLURM_ARRAY_JOB_ID: '77', SLURM_ARRAY_TASK_ID: '3' },
  })
  t.equal(r.exitCode, 0, r.stderr)
  const jobDir = join(dir, `it's "odd" %x`, '77_3')
  t.ok(existsSync(join(jobDir, 'rank0')) && existsSync(join(jobDir, 'rank1')), 'a folder per task rank')
  t.equal(statSync(join(jobDir, 'rank0')).mode & 0o777, 0o700, "user-only, like the executor's")
  t.equal(readFileSync(join(jobDir, 'rank0', '77_3_0_log.out'), 'utf8'), 'setup-line\nworker-line\n', "the shell's output in task 0's log")
  t.equal(readFileSync(join(jobDir, 'rank0', '77_3_0_log.err'), 'utf8'), 'setup-err\n')
})

/** Runs a batch script in bash (fake srun on the PATH); resolves once the worker printed 'ready'. */
async function runScript(script: string) {
  const bin = tempBin()
  const child = spawn('bash', ['-s'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, SRUN_LOG: join(bin, 'log') },
  })
  child.stdin.end(script)
  let out = ''
  let err = ''
  child.stderr.on('data', (d: Buffer) => {
    err += String(d)
  })
  const done = new Promise<number | null>((resolve) => child.on('exit', resolve))
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (d: Buffer) => {
      out += String(d)
      if (out.includes('ready')) resolve()
    }),
  )
  return { child, done, out: () => out, err: () => err }
}

const WORKER = [
  '/bin/bash',
  '-c',
  'trap "echo worker-got-usr2" USR2; trap "echo worker-got-term" TERM; echo ready; for i in $(seq 40); do sleep 0.05; done; echo worker-done; exit 5',
]

t.test('with srun: SIGUSR2 to the batch shell reaches the worker; SIGTERM is logged, not passed to srun, and ends nothing', async (t) => {
  const { script } = makeBatchScript({ params: { teardown: ['echo teardown-line'] }, folder: '/logs', command: WORKER })
  const r = await runScript(script)
  r.child.kill('SIGUSR2')
  await new Promise((res) => setTimeout(res, 300))
  r.child.kill('SIGTERM')
  t.equal(await r.done, 5, "the worker's exit code, not a signal's")
  t.match(r.out(), /worker-got-usr2[\s\S]*worker-done\nteardown-line/)
  t.notMatch(r.out(), /worker-got-term/, 'srun would kill its step on SIGTERM: not passed on')
  t.match(r.err(), /submitit-ts batch: SIGTERM at .*, waiting for the worker/)
})

t.test('without srun: both signals are passed to the worker', async (t) => {
  const { script } = makeBatchScript({ params: { useSrun: false }, folder: '/logs', command: WORKER })
  const r = await runScript(script)
  r.child.kill('SIGUSR2')
  await new Promise((res) => setTimeout(res, 300))
  r.child.kill('SIGTERM')
  t.equal(await r.done, 5)
  t.match(r.out(), /worker-got-usr2[\s\S]*worker-got-term[\s\S]*worker-done/)
})
