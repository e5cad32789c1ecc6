// The typed API rejects wrong arguments at compile time: test/types/submit-types.ts must
// type-check with its @ts-expect-error lines, and must not once they are removed.
import fs from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { ROOT, TSC } from './helpers/paths.js'
import { runNode } from './helpers/processes.js'

const SOURCE = path.join(ROOT, 'test/types/submit-types.ts')

t.test('submit-types.ts type-checks: every wrong call is a compile error', async (t) => {
  const r = await runNode([TSC, '--noEmit', '-p', path.join(ROOT, 'test/tsconfig.types.json')], { timeoutMs: 120_000 })
  t.equal(r.code, 0, `tsc passes (an unused @ts-expect-error would fail it)\n${r.stdout}${r.stderr}`)
})

t.test('without the @ts-expect-error lines, each wrong call is reported', async (t) => {
  const dir = t.testdir()
  const text = fs.readFileSync(SOURCE, 'utf8')
  const expected = text.split('\n').filter((l) => l.trim().startsWith('// @ts-expect-error')).length
  t.ok(expected >= 10, `${expected} wrong calls to check`)
  const stripped = text
    .split('\n')
    .filter((l) => !l.trim().startsWith('// @ts-expect-error'))
    .join('\n')
    .replaceAll('../../dist/', `${path.join(ROOT, 'dist')}/`)
  fs.writeFileSync(path.join(dir, 'stripped.ts'), stripped)
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: path.join(ROOT, 'tsconfig.json'),
      compilerOptions: { noEmit: true, rootDir: '/', typeRoots: [path.join(ROOT, 'node_modules/@types')] },
      include: ['stripped.ts'],
    }),
  )
  const r = await runNode([TSC, '--noEmit', '-p', path.join(dir, 'tsconfig.json')], { timeoutMs: 120_000 })
  t.not(r.code, 0, 'tsc fails')
  const errors = r.stdout.split('\n').filter((l) => /error TS\d+/.test(l))
  t.equal(errors.length, expected, `one error per removed directive:\n${errors.join('\n')}`)
  t.match(r.stdout, /Argument of type 'string' is not assignable to parameter of type 'number'/)
  t.notMatch(r.stdout, /Cannot find module/, 'the imports resolved')
})
