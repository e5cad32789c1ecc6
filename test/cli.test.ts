// The submitit-ts command, run as a user would, on jobs another process submitted.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { jobInfo, LocalExecutor } from '../dist/lib/index.js'
import { chatty, fails, sleepMs, train } from '../dist/fixtures/tasks.js'

const cliPath = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'lib', 'cli.js')
const run = (...args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: 60_000 })

t.test('status, wait, result and logs of finished jobs', async (t) => {
  const folder = `${t.testdir()}/%j`
  const ex = new LocalExecutor({ folder })
  t.teardown(() => ex.shutdown())
  const ok = await ex.submit(train, 0.5, 2)
  const bad = await ex.submit(fails, 'broken on purpose')
  const talk = await ex.submit(chatty, 9)
  await Promise.all([ok.wait(), bad.wait(), talk.wait()])

  const status = run('status', folder, ok.jobId, bad.jobId)
  t.equal(status.status, 0, status.stderr)
  t.match(status.stdout, new RegExp(`^${ok.jobId}\tCOMPLETED\t\\S+\t\\S+/thread \\d+\n${bad.jobId}\tFAILED\t`), 'state, duration, host/thread')
  const wait = run('wait', folder, ok.jobId, bad.jobId)
  t.equal(wait.status, 1, 'not all completed')
  const result = run('result', folder, ok.jobId)
  t.equal(result.status, 0)
  t.equal(result.stdout.trim(), '{ loss: 0.05, epochs: 2 }')
  const failed = run('result', folder, bad.jobId)
  t.equal(failed.status, 1)
  t.match(failed.stderr, /ValidationError: broken on purpose[\s\S]*remote stack/)
  t.equal(run('logs', folder, talk.jobId).stdout, 'out 9\n')
  t.equal(run('logs', folder, talk.jobId, '--err').stdout, 'err 9\n')
  const cancel = run('cancel', folder, ok.jobId)
  t.equal(cancel.status, 0, 'cancelling a finished job changes nothing')
  t.equal(cancel.stdout, `${ok.jobId}\tCOMPLETED\n`)
  const info = jobInfo(ok)
  t.equal(info.state, 'COMPLETED')
  t.ok(info.startedAt! <= info.endedAt! && info.durationMs! >= 0 && typeof info.host === 'string' && typeof info.thread === 'number', 'timings in the result')
})

t.test('help, usage and exit codes', async (t) => {
  for (const args of [['--help'], ['help'], ['-h'], ['status', '--help']]) {
    const r = run(...args)
    t.equal(r.status, 0, `${args.join(' ')} exits 0`)
    t.match(r.stdout, /^usage: submitit-ts/, `${args.join(' ')}: usage on stdout`)
  }
  const none = run()
  t.equal(none.status, 2)
  t.match(none.stderr, /usage:/)
  const unknown = run('frobnicate', 'logs', 'x')
  t.equal(unknown.status, 2)
  t.match(unknown.stderr, /'frobnicate' is not a command[\s\S]*usage:/)
  const badOption = run('status', 'logs', 'x', '--bogus')
  t.equal(badOption.status, 2)
  t.match(badOption.stderr, /--bogus[\s\S]*usage:/)
  const missing = run('status', 'logs')
  t.equal(missing.status, 2)
  t.match(missing.stderr, /needs a folder and at least one id/)
})

t.test('list, array ids, clear errors, --json', async (t) => {
  const dir = t.testdir()
  const folder = `${dir}/%j`
  const ex = new LocalExecutor({ folder, maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  const older = await ex.submit(train, 1, 1)
  await older.wait()
  const jobs = await ex.batch(() => {
    for (let i = 0; i < 5; i++) ex.submit(sleepMs, 1, i)
    ex.submit(fails, 'one bad')
  })
  await Promise.all(jobs.map((j) => j.wait()))
  const arrayId = jobs[0].paths.arrayId

  const list = run('list', folder)
  t.equal(list.status, 0, list.stderr)
  const lines = list.stdout.trim().split('\n')
  t.match(lines[0], /^ID\s+JOBS\s+STATES\s+TASK\s+SUBMITTED\s+BACKEND\s+ELAPSED/)
  t.match(
    lines[1],
    new RegExp(`^${arrayId}\\s+6\\s+5 completed, 1 failed\\s+sleepMs,fails\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\s+local`),
    'newest first, counts',
  )
  t.match(lines[2], new RegExp(`^${older.jobId}\\s+1\\s+1 completed\\s+train`))
  const listJson = JSON.parse(run('list', folder, '--json').stdout)
  t.same(
    listJson.arrays.map((a: { arrayId: string }) => a.arrayId),
    [arrayId, older.jobId],
  )
  t.same(listJson.arrays[0].counts, { COMPLETED: 5, FAILED: 1 })
  t.equal(listJson.arrays[0].backend, 'local')

  const status = run('status', folder, arrayId)
  t.equal(status.status, 0, status.stderr)
  t.match(
    status.stdout,
    new RegExp(`^${arrayId}\t6 jobs: 5 completed, 1 failed\telapsed \\S+\n  ${arrayId}_5\tFAILED\t`),
    'summary and the jobs that did not complete',
  )
  const sj = JSON.parse(run('status', folder, arrayId, '--json').stdout)
  t.equal(sj.arrays[0].elements.length, 6)
  t.equal(sj.arrays[0].elements[5].state, 'FAILED')
  t.ok(sj.arrays[0].elements[0].startedAt && sj.arrays[0].elements[0].durationMs >= 0, 'timings per job')
  const results = run('result', folder, arrayId)
  t.equal(results.status, 1, 'one failed')
  t.match(results.stdout, new RegExp(`^${arrayId}_0\t0\n${arrayId}_1\t1\n`))
  t.match(results.stderr, /one bad/)
  const wait = run('wait', folder, arrayId, '--json')
  t.equal(wait.status, 1)
  t.equal(JSON.parse(wait.stdout).jobs.length, 6)

  const notThere = run('status', folder, 'nosuchid')
  t.equal(notThere.status, 1)
  t.match(notThere.stderr, /no job or array 'nosuchid' under .*submitit-ts list/)
  const past = run('status', folder, `${arrayId}_6`)
  t.equal(past.status, 1)
  t.match(past.stderr, new RegExp(`array ${arrayId} has 6 jobs \\(${arrayId}_0..${arrayId}_5\\): there is no ${arrayId}_6`))
  t.notMatch(past.stdout + past.stderr, /FAILED/)
  const single = run('result', folder, `${older.jobId}_0`)
  t.equal(single.status, 1)
  t.match(single.stderr, /is a single job, not an array/)

  const plain = path.join(dir, 'plain')
  const ex2 = new LocalExecutor({ folder: plain })
  t.teardown(() => ex2.shutdown())
  const [a] = await ex2.mapArray(train, [1], [2])
  await a.wait()
  t.match(run('list', plain).stdout, new RegExp(`${a.paths.arrayId}\\s+1\\s+1 completed`), 'a plain folder too')
  fs.mkdirSync(path.join(dir, 'empty'))
  const empty = run('list', path.join(dir, 'empty'))
  t.equal(empty.status, 0, 'an empty folder is not an error')
  t.match(empty.stderr, /no jobs under/)
  const missingFolder = run('list', path.join(dir, 'nosuch', '%j'))
  t.equal(missingFolder.status, 1, 'a folder that is not there is one')
  t.match(missingFolder.stderr, /nosuch: no such folder/)
})

t.test('clean: finished arrays only, --dry-run, --state, --older-than', async (t) => {
  const folder = `${t.testdir()}/%j`
  const ex = new LocalExecutor({ folder, maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  const good = await ex.mapArray(train, [1, 2], [1, 1])
  const bad = await ex.submit(fails, 'x')
  await Promise.all([...good, bad].map((j) => j.wait()))
  const running = await ex.submit(sleepMs, 600_000, 1)
  t.teardown(() => running.cancel())
  t.equal(run('clean', folder, '--older-than', 'soon').status, 2, 'a bad age is a usage error')
  t.equal(run('clean', folder, '--older-than', '1d').stdout, '', 'nothing old enough')
  const dry = run('clean', folder, '--dry-run', '--state', 'completed')
  t.equal(dry.status, 0, dry.stderr)
  t.match(dry.stdout, new RegExp(`would remove .*${good[0].paths.arrayId}_submitted.v8`))
  t.notMatch(dry.stdout, new RegExp(bad.jobId), '--state completed leaves the failed one')
  t.ok(fs.existsSync(good[0].paths.submitted), 'dry run removes nothing')
  const json = JSON.parse(run('clean', folder, '--json').stdout)
  t.same(json.removed.map((r: { arrayId: string }) => r.arrayId).sort(), [good[0].paths.arrayId, bad.jobId].sort())
  t.match(json.kept, [{ arrayId: running.jobId, why: /not finished/ }], 'never a running job')
  t.notOk(fs.existsSync(good[0].paths.submitted))
  t.ok(fs.existsSync(running.paths.submitted))
  t.notOk(
    fs.existsSync(path.dirname(good[0].paths.resultFile(0))) && fs.readdirSync(path.dirname(good[0].paths.resultFile(0))).length > 0,
    'no file of it left',
  )
  t.match(run('list', folder).stdout, new RegExp(`${running.jobId}\\s+1\\s+1 running`))
})

t.test('watch: a line per interval off a terminal, until the end', async (t) => {
  const folder = `${t.testdir()}/%j`
  const ex = new LocalExecutor({ folder, maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  const jobs = await ex.mapArray(sleepMs, [1, 1, 1], [1, 2, 3])
  await Promise.all(jobs.map((j) => j.wait()))
  const w = run('watch', folder, jobs[0].paths.arrayId)
  t.equal(w.status, 0, w.stderr)
  t.match(w.stdout, /3\/3 jobs done \(3 completed\), 0 running, 0 pending, .*\/s, in \d/)
})

t.test('ids as users type them: leading zeros, negative or odd indices, typos; a command’s own usage for a bad option', async (t) => {
  const folder = `${t.testdir()}/%j`
  const ex = new LocalExecutor({ folder, maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  const jobs = await ex.mapArray(train, [1, 2, 3, 4], [1, 1, 1, 1])
  await Promise.all(jobs.map((j) => j.wait()))
  const A = jobs[0].paths.arrayId
  const zero = run('status', folder, `${A}_03`)
  t.equal(zero.status, 0, 'A_03 is A_3, as Slurm reads it')
  t.match(zero.stdout, new RegExp(`^${A}_3\tCOMPLETED`))
  for (const bad of ['-1', '1e3', 'x', '']) {
    const r = run('status', folder, `${A}_${bad}`)
    t.equal(r.status, 1, `${A}_${bad}: not there`)
    t.match(r.stderr, new RegExp(`'${bad}' is not an index of array ${A}: its jobs are ${A}_0..${A}_3`))
    t.notMatch(r.stdout, /FAILED/)
  }
  const typo = run('result', folder, `${A.slice(0, -1)}x_2`)
  t.equal(typo.status, 1)
  t.match(typo.stderr, new RegExp(`no job or array '${A.slice(0, -1)}x_2' under .*; did you mean ${A}_2\\?`), 'the nearest id')
  const slash = run('status', folder, '../etc')
  t.equal(slash.status, 2, 'not an id at all')
  const badOption = run('logs', folder, A, '--tsak', '1')
  t.equal(badOption.status, 2)
  t.match(badOption.stderr, /^submitit-ts logs: Unknown option '--tsak'[\s\S]*usage: submitit-ts logs <folder> <id>\.\.\. \[--err\] \[--task N\]/)
  t.notMatch(badOption.stderr, /commands:/, 'its own usage, not every command')
  const badTask = run('logs', folder, A, '--task', 'one')
  t.equal(badTask.status, 2)
  t.match(badTask.stderr, /--task takes a task rank/)
})

t.test('--json on every read command: one document, stable names; a closed pipe ends the command quietly', async (t) => {
  const folder = `${t.testdir()}/%j`
  const ex = new LocalExecutor({ folder, maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  const jobs = await ex.batch(() => {
    for (let i = 0; i < 3000; i++) ex.submit(sleepMs, 0, i)
    ex.submit(fails, 'one bad')
  })
  await Promise.all(jobs.map((j) => j.wait()))
  const A = jobs[0].paths.arrayId
  const json = (...args: string[]) => {
    const r = spawnSync(process.execPath, [cliPath, ...args, '--json'], { encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 28 })
    return JSON.parse(r.stdout)
  }
  const keys = (o: object) => Object.keys(o).sort()
  const list = json('list', folder)
  t.same(keys(list), ['arrays', 'folder', 'unreadable'])
  t.same(keys(list.arrays[0]), [
    'arrayId',
    'backend',
    'counts',
    'elapsedMs',
    'endedAt',
    'file',
    'isArray',
    'jobs',
    'rerunAs',
    'rerunOf',
    'startedAt',
    'submittedAt',
    'task',
  ])
  const status = json('status', folder, A, `${A}_3000`)
  t.same(keys(status), ['arrays', 'jobs'])
  t.same(keys(status.arrays[0]), ['arrayId', 'backend', 'counts', 'elapsedMs', 'elements', 'jobs', 'rerunOf'])
  t.same(keys(status.arrays[0].elements[0]), ['durationMs', 'endedAt', 'jobId', 'reason', 'rerunAs', 'rerunOf', 'startedAt', 'state', 'where'])
  t.same(keys(status.jobs[0]), ['durationMs', 'endedAt', 'host', 'jobId', 'reason', 'rerunAs', 'rerunOf', 'startedAt', 'state', 'thread', 'where'])
  const wait = json('wait', folder, A)
  t.same(keys(wait), ['jobs', 'ok'])
  t.same(keys(wait.jobs[0]), ['error', 'jobId', 'reason', 'state'])
  const result = json('result', folder, `${A}_0`, `${A}_3000`)
  t.same(result.jobs.map(keys), [
    ['jobId', 'state', 'value'],
    ['error', 'jobId', 'state'],
  ])
  t.same(keys(json('logs', folder, `${A}_0`)), ['jobs', 'stream'])
  t.same(keys(json('cancel', folder, `${A}_0`).jobs[0]), ['jobId', 'state'])
  t.same(keys(json('clean', folder, '--dry-run')), ['dryRun', 'kept', 'removed', 'unreadable'])

  // a reader that stops early (| head): exit 0, no stack trace
  for (const args of [
    ['status', folder, A, '--all'],
    ['result', folder, A],
    ['status', folder, A, '--json'],
  ]) {
    const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    child.stderr.on('data', (d) => (err += d))
    child.stdout.once('data', () => child.stdout.destroy())
    const code = await new Promise((r) => child.on('close', r))
    // 0 when the closed pipe stopped it; its own status when it was done first (result: a job failed)
    t.ok(code === 0 || code === (args[0] === 'result' ? 1 : 0), `${args[0]}: exit ${code}`)
    t.notMatch(err, /EPIPE|at .*\(.*:\d+:\d+\)/, `${args.join(' ')}: no stack trace`)
  }
})

t.test('a folder copied elsewhere (cp -a, rsync -t) reads the same: states, results, submit times and order', async (t) => {
  const dir = t.testdir()
  const folder = path.join(dir, 'logs', '%j')
  const ex = new LocalExecutor({ folder, maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  const first = await ex.mapArray(train, [1, 2], [1, 1])
  await Promise.all(first.map((j) => j.wait()))
  const second = await ex.submit(fails, 'later')
  await second.wait()
  await ex.shutdown()
  const copy = path.join(dir, 'copy')
  await new Promise((r) => setTimeout(r, 20)) // the copy is strictly younger than the submissions
  const copiedAt = Date.now()
  fs.cpSync(path.join(dir, 'logs'), copy, { recursive: true, preserveTimestamps: true })
  fs.rmSync(path.join(dir, 'logs'), { recursive: true })
  const before = JSON.parse(run('list', copy, '--json').stdout)
  t.same(
    before.arrays.map((a: { arrayId: string }) => a.arrayId),
    [second.jobId, first[0].paths.arrayId],
    'newest first, as before the copy',
  )
  t.ok(
    before.arrays.every((a: { submittedAt: string }) => Date.parse(a.submittedAt) < copiedAt),
    'the recorded submit times, not the copy’s',
  )
  t.ok(
    before.arrays.every((a: { file: string }) => a.file.startsWith(copy)),
    'read from the copy',
  )
  t.equal(run('result', copy, first[1].jobId).stdout.trim(), '{ loss: 0.2, epochs: 1 }')
  t.match(run('status', copy, second.jobId).stdout, new RegExp(`^${second.jobId}\tFAILED\t`))
})

t.test('a damaged result file (truncated by a copy) is named, its jobs FAILED, never waited for', async (t) => {
  const folder = `${t.testdir()}/%j`
  const ex = new LocalExecutor({ folder, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const jobs = await ex.mapArray(sleepMs, [1, 1, 1], [1, 2, 3])
  await Promise.all(jobs.map((j) => j.wait()))
  await ex.shutdown()
  const A = jobs[0].paths.arrayId
  // whichever file holds job 1's outcome (its own, or a chunk's)
  const own = jobs[1].paths.resultFile(0)
  const file = fs.existsSync(own)
    ? own
    : path.join(
        jobs[1].paths.arrayFolder,
        fs.readdirSync(jobs[1].paths.arrayFolder).find((n) => /^\S+_(\d+)-(\d+)_0_result\.v8$/.test(n) && Number(/_(\d+)-/.exec(n)![1]) <= 1)!,
      )
  fs.truncateSync(file, 20)
  const status = run('status', folder, A)
  t.equal(status.status, 0)
  t.match(status.stdout, new RegExp(`  ${A}_1\tFAILED \\(cannot read ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
  const wait = run('wait', folder, A)
  t.equal(wait.status, 1, 'wait ends: not all completed')
  const single = run('result', folder, `${A}_1`)
  t.equal(single.status, 1)
  t.match(single.stderr, /^submitit-ts result: cannot read /, 'the command names itself and the file, no stack trace')
})
