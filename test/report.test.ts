// The HTML report of an array, rendered by a real browser (headless Chromium): the bars of the
// timeline and the failed jobs must be on the page once its script has run.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { LocalExecutor } from '../dist/lib/index.js'
import { fails, sleepMs } from '../dist/fixtures/tasks.js'
import { CLI } from './helpers/paths.js'

const chromium = ['chromium', 'chromium-browser', 'google-chrome'].find((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0)

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

  if (!chromium) {
    if (process.env.CI === 'true') t.fail('Chromium is missing (apt-get install -y chromium)')
    else t.comment('SKIP: Chromium is missing; apt-get install -y chromium to render the report in a browser')
    return
  }
  const dom = spawnSync(chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--dump-dom', `file://${out}`], { encoding: 'utf8', timeout: 120_000 })
  t.equal(dom.status, 0, 'chromium rendered the page')
  const bars = dom.stdout.match(/<rect [^>]*class="bar state-(\w+)"/g) ?? []
  t.equal(bars.length, 9, "one bar per job, drawn by the page's script")
  t.equal(bars.filter((b) => b.includes('state-FAILED')).length, 1, 'the failed one coloured as failed')
  t.ok((dom.stdout.match(/class="hist-bar"/g) ?? []).length > 0, 'the histogram')
  t.match(dom.stdout, /Failed jobs \(1\)[\s\S]*the &lt;b&gt;bad&lt;\/b&gt; one/, 'the failed job with its error')
})
