// Folder names with spaces, quotes, $ and % work end to end: executors, logs, attach, worker CLI.
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { attachJob, DebugExecutor, LocalExecutor } from '../dist/lib/index.js'
import { add, chatty, square } from '../dist/fixtures/tasks.js'
import { listFiles } from './helpers/files.js'
import { distPath, distUrl } from './helpers/paths.js'
import { runNode, writeScript } from './helpers/processes.js'

const NASTY = `a b'c "d" $HOME \`x\` 100%% ünï`

t.test('a folder with spaces, quotes, $, backticks, %% and non-ASCII', async (t) => {
  const dir = t.testdir()
  const folder = path.join(dir, NASTY, '%j')
  const ex = new LocalExecutor({ folder, maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  const job = await ex.submit(chatty, 3)
  t.equal(await job.result(), 3)
  t.equal(job.stdout(), 'out 3\n')
  const real = path.join(dir, `a b'c "d" $HOME \`x\` 100% ünï`)
  t.ok(fs.existsSync(path.join(real, job.jobId, `${job.jobId}_0_log.out`)), '%% became one %, the rest is verbatim')
  t.ok(fs.existsSync(job.paths.submitted))
  t.ok(job.paths.submitted.startsWith(real))

  const jobs = await ex.mapArray(square, [1, 2, 3, 4, 5, 6, 7, 8])
  t.same(await Promise.all(jobs.map((j) => j.result())), [1, 4, 9, 16, 25, 36, 49, 64])

  // another process attaches through the same template
  const script = writeScript(
    dir,
    'attach.mjs',
    `
    import { attachJob } from ${JSON.stringify(distUrl('lib/index.js'))}
    const job = attachJob(process.argv[2], process.argv[3])
    console.log(JSON.stringify({ result: await job.result(), stdout: job.stdout() }))`,
  )
  const r = await runNode([script, folder, job.jobId])
  t.equal(r.code, 0, `exit code 0 ${r.stderr}`)
  t.same(JSON.parse(r.stdout), { result: 3, stdout: 'out 3\n' })
  t.equal(await attachJob<number>(folder, jobs[6].jobId).result(), 49)

  // the worker CLI runs an element of a submission in that folder
  const d = new DebugExecutor({ folder })
  const pending = await d.submit(add, 40, 2)
  const cli = await runNode([distPath('worker/main.js'), folder, '--array-id', pending.jobId])
  t.equal(cli.code, 0, `exit code 0 ${cli.stderr}`)
  t.equal(await attachJob<number>(folder, pending.jobId).result(), 42)
  t.notOk(
    listFiles(dir).some((f) => f.startsWith('a b') && !f.startsWith(`a b'c "d" $HOME \`x\` 100% ünï/`)),
    'no file outside the folder',
  )
})

t.test('a folder template using %A and %a', async (t) => {
  const dir = t.testdir()
  const folder = path.join(dir, 'arr-%A', 'el %a')
  const ex = new LocalExecutor({ folder, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const jobs = await ex.mapArray(chatty, [0, 1])
  await Promise.all(jobs.map((j) => j.wait()))
  const arrayId = jobs[0].jobId.replace(/_0$/, '')
  t.equal(jobs[1].stdout(), 'out 1\n')
  t.ok(fs.existsSync(path.join(dir, `arr-${arrayId}`, 'el 1', `${arrayId}_1_0_log.out`)), 'the logs of element 1 are in "el 1"')
  t.ok(fs.existsSync(path.join(dir, `arr-${arrayId}`, 'el all', `${arrayId}_submitted.v8`)), 'the shared files are in "el all"')
  t.equal(await attachJob<number>(folder, jobs[1].jobId).result(), 1)
})
