// I/O errors never kill the caller: a full disk or a read-only folder makes submit reject, or the
// affected jobs end FAILED with the cause; no temporary file is left; the process and the executor
// go on. Real file systems: small tmpfs mounts (root is needed to mount them, as in CI).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { DebugExecutor, delayed, FailedJobError, LocalExecutor } from '../dist/lib/index.js'
import { add, busyMs, chatty, fails } from '../dist/fixtures/tasks.js'
import { countRun, fillDisk } from '../dist/fixtures/trust-tasks.js'
import { listFiles } from './helpers/files.js'

/** Mounts a tmpfs of `size` at a new folder; unmounted at teardown. */
function tmpfs(t: { teardown(fn: () => void): void; fail(msg: string): void; comment(msg: string): void }, size: string, readOnly = false): string | undefined {
  // outside the test's folder: tap removes that before the teardown unmounts
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'submitit-io-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}${readOnly ? ',ro' : ''}`, 'tmpfs', dir], { stdio: 'pipe' })
  } catch (e) {
    const why = `cannot mount a tmpfs here (${(e as Error).message.split('\n')[0]}): run as root`
    if (process.env.CI === 'true' || process.env.CI === '1') t.fail(why)
    else t.comment(`skipped: ${why}`)
    return undefined
  }
  t.teardown(() => {
    try {
      execFileSync('umount', ['-l', dir])
    } catch {
      /* gone */
    }
    fs.rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

const backends = [
  ['LocalExecutor', (folder: string) => new LocalExecutor({ folder, maxWorkers: 2 })],
  ['DebugExecutor', (folder: string) => new DebugExecutor({ folder })],
] as const

for (const [name, make] of backends) {
  t.test(`${name}: the disk fills up while jobs run: they end FAILED with the cause, the caller goes on`, async (t) => {
    const mnt = tmpfs(t, '2m')
    if (!mnt) return
    const ex = make(`${mnt}/%j`)
    t.teardown(() => ex.shutdown())
    const filler = await ex.submit(fillDisk, mnt, 7)
    const e = await filler.exception()
    t.type(e, FailedJobError)
    t.equal(filler.state, 'FAILED')
    t.match(e?.message, /ENOSPC|disk is full/)
    t.match(e?.message, /submit it again/, 'says what to do')
    // more jobs while the disk is still full: each ends, none hangs
    const jobs = await ex.mapArray(chatty, [1, 2, 3]).catch((err: Error) => err)
    if (jobs instanceof Error) {
      t.match(jobs.message, /ENOSPC|disk is full/, 'or the submission itself is refused, with the cause')
    } else {
      for (const j of jobs) {
        await j.wait()
        t.equal(j.state, 'FAILED', `${j.jobId} FAILED`)
        t.match((await j.exception())?.message, /ENOSPC|no space/)
      }
    }
    t.same(
      listFiles(mnt).filter((f) => f.includes('.tmp')),
      [],
      'no temporary file left',
    )
    fs.rmSync(path.join(mnt, 'filler'))
    t.equal(await (await ex.submit(add, 20, 22)).result(), 42, 'with space again, jobs run')
  })

  t.test(`${name}: a read-only folder or a full disk at submit: submit rejects, saying why`, async (t) => {
    const ro = tmpfs(t, '64k', true)
    if (!ro) return
    const ex = make(`${ro}/%j`)
    t.teardown(() => ex.shutdown())
    const e = await ex.submit(add, 1, 2).then(
      () => null,
      (err: Error) => err,
    )
    t.match(e?.message, /read-only/i)
    t.match(e?.message, /choose another folder/)
  })
}

for (const [name, make] of backends) {
  t.test(`${name}: a log that cannot be written loses the output, not the job: its own error and its siblings' results stand`, async (t) => {
    const dir = t.testdir()
    const ex = name === 'LocalExecutor' ? new LocalExecutor({ folder: `${dir}/%j`, maxWorkers: 1 }) : make(`${dir}/%j`)
    t.teardown(() => ex.shutdown())
    // the one thread is busy: the array waits while its logs are made unwritable
    const busy = name === 'LocalExecutor' ? await ex.submit(busyMs, 1000) : undefined
    const jobs = await ex.submitArray([delayed(add, 1, 2), delayed(fails, 'boom'), delayed(chatty, 2)])
    // a folder where each log file goes: opening it fails (EISDIR), as a full disk or a read-only folder would
    for (const j of jobs) for (const log of [j.paths.stdout(0), j.paths.stderr(0)]) fs.mkdirSync(log, { recursive: true })
    await busy?.wait()
    t.equal(await jobs[0].result(), 3)
    const e = await jobs[1].exception()
    t.match(e?.message, /failed: ValidationError: boom/, "the task's own error, not the log's")
    await jobs[2].wait()
    t.equal(jobs[2].state, 'COMPLETED', 'a task printing to it completes')
  })
}

t.test('a submission that cannot be written leaves nothing behind', async (t) => {
  const mnt = tmpfs(t, '64k')
  if (!mnt) return
  fs.writeFileSync(path.join(mnt, 'filler'), Buffer.alloc(60 * 1024))
  const ex = new LocalExecutor({ folder: `${mnt}/jobs`, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const big = 'x'.repeat(100_000)
  const e = await ex.submit(chatty, big as unknown as number).then(
    () => null,
    (err: Error) => err,
  )
  t.match(e?.message, /cannot write .*_submitted\.v8.*(ENOSPC|disk is full)/)
  t.same(
    listFiles(mnt).filter((f) => f.includes('.tmp')),
    [],
    'no temporary file left',
  )
})

// a small submission's first chunks are sent before its file is written (lib/core/protocol.ts
// awaitSubmission): when the write fails, submit rejects and not one task has run
t.test('a small submission that cannot be written runs no task, and the executor goes on', async (t) => {
  const mnt = tmpfs(t, '64k')
  if (!mnt) return
  const runs = path.join(t.testdir(), 'runs')
  fs.writeFileSync(runs, '')
  const ex = new LocalExecutor({ folder: `${mnt}/%j`, maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  // warm the pool so that its threads would be quick to run what they get
  t.equal(await (await ex.submit(countRun, runs, 0, -1, 0)).result(), 0)
  fs.writeFileSync(path.join(mnt, 'filler'), Buffer.alloc(1024 * 1024).subarray(0, fs.statfsSync(mnt).bavail * fs.statfsSync(mnt).bsize))
  for (let round = 0; round < 5; round++) {
    const single = await ex.submit(countRun, runs, 1, -1, 0).then(
      () => null,
      (err: Error) => err,
    )
    t.match(single?.message, /ENOSPC|disk is full/, 'submit rejects with the cause')
    const array = await ex.mapArray(countRun, [runs, runs, runs], [2, 3, 4], [-1, -1, -1], [0, 0, 0]).then(
      () => null,
      (err: Error) => err,
    )
    t.match(array?.message, /ENOSPC|disk is full/, 'mapArray rejects with the cause')
  }
  // give a thread that wrongly went on the time to write its line
  await new Promise((r) => setTimeout(r, 300))
  t.equal(fs.readFileSync(runs, 'utf8'), '0\n', 'no task of a refused submission ran')
  t.same(
    listFiles(mnt).filter((f) => f.includes('.tmp')),
    [],
    'no temporary file left',
  )
  fs.rmSync(path.join(mnt, 'filler'))
  t.equal(await (await ex.submit(countRun, runs, 5, -1, 0)).result(), 5, 'with space again, jobs run')
  t.same(await Promise.all((await ex.mapArray(countRun, [runs, runs], [6, 7], [-1, -1], [0, 0])).map((j) => j.result())), [6, 7])
})
