// The README's main job (npm run demo) runs and prints its results: the set-up promise stays true.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { distPath } from './helpers/paths.js'

t.test('the demo: a 300-job mapArray on the LocalExecutor', async (t) => {
  const cwd = t.testdir()
  const r = spawnSync(process.execPath, [distPath('examples/demo.js')], { cwd, encoding: 'utf8', timeout: 120_000 })
  t.equal(r.status, 0, r.stderr)
  t.match(r.stdout, /submitted 300 jobs as array (\S+)/)
  t.match(r.stdout, /best: lr=0\.\d+ loss=/)
  t.match(r.stdout, /300 jobs done in \d+ ms/)
  t.match(r.stdout, /first job's stdout: "first job of the array: lr=0.001/)
  const arrayId = /as array (\S+)/.exec(r.stdout)![1]
  t.ok(fs.existsSync(path.join(cwd, 'logs', arrayId, `${arrayId}_submitted.v8`)), 'its files are in ./logs')
  // it ends saying where its report is and what to try next, and both are true
  const end = r.stdout.trimEnd().split('\n').slice(-2)
  t.equal(end[0], 'report of the array: logs/report.html (open it in a browser)')
  t.match(fs.readFileSync(path.join(cwd, 'logs', 'report.html'), 'utf8'), new RegExp(`Array ${arrayId} — train`))
  t.equal(end[1], `try: npx submitit-ts list 'logs/%j'     (then: npx submitit-ts status 'logs/%j' ${arrayId})`)
  const list = spawnSync(process.execPath, [distPath('lib/cli.js'), 'list', 'logs/%j'], { cwd, encoding: 'utf8' })
  t.match(list.stdout, new RegExp(`^${arrayId}\\s+300\\s+300 completed\\s+train`, 'm'), 'the list command it suggests shows the array')
})
