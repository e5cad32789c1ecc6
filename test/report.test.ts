// The HTML report of an array, rendered by a real browser (headless Chromium): the bars of the
// timeline and the failed jobs must be on the page once its script has run.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import { LocalExecutor } from '../dist/lib/index.js'
import { fails, sleepMs } from '../dist/fixtures/tasks.js'
import { MAX_BARS } from '../dist/lib/report/data.js'
import { readRunning } from '../dist/lib/core/owner.js'
import { runningPath } from '../dist/lib/core/paths.js'
import { CLI, distUrl } from './helpers/paths.js'
import { runNode, writeScript } from './helpers/processes.js'
import { until } from './helpers/waiting.js'

const chromium = ['chromium', 'chromium-browser', 'google-chrome'].find((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0)

/** No browser here: a failure under CI=true (it must render there), a skip with a message elsewhere. */
function noChromium(t: Test): void {
  if (process.env.CI === 'true') t.fail('Chromium is missing (apt-get install -y --no-install-recommends chromium)')
  else t.comment('SKIP: Chromium is missing; apt-get install -y --no-install-recommends chromium to render the report in a browser')
}

t.test('report --html: timeline, histogram, failed jobs, in Chromium', async (t) => {
  const dir = t.testdir()
  const folder = `${dir}/%j`
  const ex = new LocalExecutor({ folder, maxWorkers: 2 })
  t.teardown(() => ex.shutdown())
  const jobs = await ex.batch(() => {
    for (let i = 0; i < 8; i++) ex.submit(sleepMs, 5 + i, i)
    ex.submit(fails, 'the <b>bad</b> one')
  })
  await Promise.all(jobs.map((j) => j.wait()))
  const out = path.join(dir, 'report.html')
  const r = spawnSync(process.execPath, [CLI, 'report', folder, jobs[0].paths.arrayId, '--html', out], { encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  const html = fs.readFileSync(out, 'utf8')
  t.notMatch(html, /(src|href)="https?:/, 'self-contained: nothing from the network')
  t.match(html, /&#60;b&#62;bad&#60;\/b&#62;/, 'errors are escaped')
  t.match(html, new RegExp(`data-job="${jobs[8].jobId}"`), 'the failed job is listed')

  if (!chromium) return noChromium(t)
  const dom = spawnSync(chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--dump-dom', `file://${out}`], { encoding: 'utf8', timeout: 120_000 })
  t.equal(dom.status, 0, 'chromium rendered the page')
  const bars = dom.stdout.match(/<rect [^>]*class="bar state-(\w+)"/g) ?? []
  t.equal(bars.length, 9, "one bar per job, drawn by the page's script")
  t.equal(bars.filter((b) => b.includes('state-FAILED')).length, 1, 'the failed one coloured as failed')
  t.ok((dom.stdout.match(/class="hist-bar"/g) ?? []).length > 0, 'the histogram')
  t.match(dom.stdout, /Failed jobs \(1\)[\s\S]*the &lt;b&gt;bad&lt;\/b&gt; one/, 'the failed job with its error')
})

// a task whose element i fails for i % 1000 === 7, with HTML (and a script end) in its error and its output
const TASKS = `
import { task } from ${JSON.stringify(distUrl('lib/index.js'))}
export const maybe = task(import.meta.url, (i) => {
  if (i % 1000 !== 7) return i
  console.log('about to fail </script><img src=x onerror="window.pwned=1">')
  throw new Error('bad ' + i + ' </script><img src=x onerror="window.pwned=1"> <b>bold</b>')
})
`
const SUBMIT = (folder: string, n: number) => `
import { LocalExecutor } from ${JSON.stringify(distUrl('lib/index.js'))}
import { maybe } from './tasks.mjs'
const ex = new LocalExecutor({ folder: ${JSON.stringify(folder)}, maxWorkers: 2 })
const jobs = await ex.mapArray(maybe, Array.from({ length: ${n} }, (_, i) => i))
await Promise.all(jobs.map((j) => j.wait()))
console.log(jobs[0].paths.arrayId)
await ex.shutdown()
`

t.test('report of 20,000 jobs: bars merged to the page, a small file; errors with HTML and </script> are text, not markup', async (t) => {
  const dir = t.testdir()
  const folder = `${dir}/%j`
  writeScript(dir, 'tasks.mjs', TASKS)
  const made = await runNode([writeScript(dir, 'submit.mjs', SUBMIT(folder, 20_000))], { timeoutMs: 300_000 })
  t.equal(made.code, 0, made.stderr)
  const arrayId = made.stdout.trim()
  const out = path.join(dir, 'report.html')
  const r = spawnSync(process.execPath, [CLI, 'report', folder, arrayId, '--html', out], { encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  const html = fs.readFileSync(out, 'utf8')
  t.ok(html.length < 300_000, `a small page: ${html.length} bytes for 20,000 jobs`)
  t.notMatch(html, /<img/i, 'no markup of theirs anywhere in the page')
  t.match(html, /Failed jobs \(20, the first 20 shown\)|Failed jobs \(20\)/)
  t.match(html, /drawn as \d+ bars/, 'the page says its bars are merged')

  if (!chromium) return noChromium(t)
  const dom = spawnSync(chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--dump-dom', `file://${out}`], { encoding: 'utf8', timeout: 120_000 })
  t.equal(dom.status, 0, 'chromium rendered the page')
  const bars = dom.stdout.match(/<rect [^>]*class="bar state-(\w+)"/g) ?? []
  t.ok(bars.length > 0 && bars.length <= MAX_BARS, `${bars.length} bars drawn`)
  t.equal(bars.filter((b) => b.includes('state-FAILED')).length, 20, 'each failed job a bar of its own, coloured as failed')
  t.notMatch(dom.stdout, /<img/i, 'no element made of an error message')
  t.match(dom.stdout, /bad 7 &lt;\/script&gt;&lt;img src=x onerror="window.pwned=1"&gt; &lt;b&gt;bold&lt;\/b&gt;/, 'the error as text')
  t.match(dom.stdout, /about to fail &lt;\/script&gt;/, 'its log tail as text')
})

t.test('report of an array with no timings yet: says so, in the browser too', async (t) => {
  const dir = t.testdir()
  const folder = `${dir}/%j`
  const ex = new LocalExecutor({ folder, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())
  const jobs = await ex.mapArray(sleepMs, [600_000, 600_000], [1, 2])
  const out = path.join(dir, 'report.html')
  // the executor says which one runs on its thread (the other waits in its queue)
  const { arrayId, index } = jobs[0].paths
  await until(() => readRunning(runningPath(folder, arrayId, index !== null), jobs[0].nonce)?.has(0) === true, 30_000, 'the first job to run')
  // run asynchronously: the jobs run in this process
  const r = await runNode([CLI, 'report', folder, arrayId, '--html', out])
  t.equal(r.code, 0, r.stderr)
  const html = fs.readFileSync(out, 'utf8')
  t.match(html, /1 running/)
  t.match(html, /1 pending/)
  t.match(html, /no timings recorded yet/)
  if (!chromium) return noChromium(t)
  const dom = spawnSync(chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--dump-dom', `file://${out}`], { encoding: 'utf8', timeout: 120_000 })
  t.equal(dom.status, 0)
  t.match(dom.stdout, /<div id="timeline"><p class="none">no timings recorded yet<\/p><\/div>/, 'the timeline says so')
  t.match(dom.stdout, /<div id="histogram"><p class="none">no timings recorded yet<\/p><\/div>/, 'the histogram too')
  t.notMatch(dom.stdout, /<rect/, 'nothing drawn')
})
