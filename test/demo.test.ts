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
})
