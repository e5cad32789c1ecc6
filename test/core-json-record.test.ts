// Records of plain data are written as JSON where JSON gives back exactly what v8 would (lib/core/json-record.ts).
// Hostile values first: each must come back from a record as v8 would give it back (-0, NaN, holes,
// undefined, a shared object, a cycle, a Proxy, toJSON, properties beside an array's items...), and
// through a real executor as the task returned it. Then that the fast path is really taken for a
// small job (so it cannot silently stop), and that a damaged JSON record is refused with a clear error.
import fs from 'node:fs'
import path from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import v8 from 'node:v8'
import t from 'tap'
import { decodeResult, encodeRecord, resultRecord, readResult, readSubmission, type ResultRecord } from '../dist/lib/core/format.js'
import { jsonExact } from '../dist/lib/core/json-record.js'
import { DebugExecutor, LocalExecutor } from '../dist/lib/index.js'
import { echo } from '../dist/fixtures/tasks.js'

const shared = { s: 1 }
const cycle: Record<string, unknown> = { a: 1 }
cycle.self = cycle
const extraProps = Object.assign([1, 2], { note: 'kept by v8' })
/** [1, <hole>, 3] */
const holey = (): unknown[] => {
  const a = new Array<unknown>(3)
  a[0] = 1
  a[2] = 3
  return a
}
const protoKey = JSON.parse('{"__proto__": {"x": 1}, "y": 2}')
const hostile: [string, () => unknown][] = [
  ['-0', () => -0],
  ['NaN', () => NaN],
  ['Infinity', () => [Infinity, -Infinity]],
  ['undefined in an object', () => ({ a: undefined, b: 1 })],
  ['undefined in an array', () => [undefined, 1]],
  ['a hole', holey],
  ['properties beside the items', () => extraProps],
  ['a shared object', () => ({ a: shared, b: shared })],
  ['a cycle', () => cycle],
  ['a Proxy', () => new Proxy({ a: 1 }, {})],
  ['a toJSON function', () => ({ a: 1, toJSON: () => 'changed' })],
  ['a toJSON string', () => ({ toJSON: 'kept' })],
  ['an own __proto__ key', () => protoKey],
  ['a lone surrogate', () => ['\ud800', 'a\udfffb', '😀']],
  ['escapes', () => ({ 'k"\\\n\u2028': 'v"\\\n\u0000\u2029' })],
  ['integer-like keys', () => ({ b: 1, 2: 'two', 1: 'one', a: 2 })],
  ['a BigInt', () => ({ n: 10n })],
  ['a Date', () => new Date(0)],
  ['a Map', () => new Map([[1, { a: 1 }]])],
  ['a typed array', () => new Float64Array([1.5, -0])],
  ['a null-prototype object', () => Object.assign(Object.create(null), { a: 1 })],
  ['a long array', () => Array.from({ length: 5000 }, (_, i) => i / 3)],
  ['a long string', () => 'x'.repeat(100_000)],
  ['many objects', () => Array.from({ length: 1000 }, (_, i) => ({ i }))],
  ['deep', () => Array.from({ length: 200 }).reduce((inner) => ({ inner }), 1)],
  ['doubles', () => [0.1 + 0.2, 5e-324, 1.7976931348623157e308, 2 ** 53 + 2, -1e-7]],
]

/** A result record holding `value`, as a worker writes one. */
function recordOf(value: unknown): ResultRecord {
  return resultRecord({ arrayId: 'a1', nonce: 'n1' }, 0, 0, [{ state: 'COMPLETED', value }], false, [1, 2], 1)
}

t.test('a record comes back as v8 gives it back, whatever it holds', async (t) => {
  for (const [label, make] of hostile) {
    const record = recordOf(make())
    let viaV8: unknown
    try {
      viaV8 = v8.deserialize(v8.serialize(record))
    } catch (e) {
      t.throws(() => encodeRecord(record), { message: (e as Error).message }, `${label}: refused as v8 refuses it`)
      continue
    }
    const back = decodeResult(encodeRecord(record), 'test')
    t.ok(isDeepStrictEqual(back, viaV8), `${label}: the same as v8's`)
  }
  // what deepStrictEqual does not look at: identity within the value, a hole against undefined
  const sharedBack = decodeResult(encodeRecord(recordOf({ a: shared, b: shared })), 'test').values[0] as Record<string, unknown>
  t.equal(sharedBack.a, sharedBack.b, 'a shared object is still one object')
  const cycleBack = decodeResult(encodeRecord(recordOf(cycle)), 'test').values[0] as Record<string, unknown>
  t.equal(cycleBack.self, cycleBack, 'a cycle is still a cycle')
  const holeBack = decodeResult(encodeRecord(recordOf(holey())), 'test').values[0] as unknown[]
  t.notOk(1 in holeBack, 'a hole is still a hole')
  t.ok(Object.is(decodeResult(encodeRecord(recordOf(-0)), 'test').values[0], -0), '-0 is still -0')
  t.equal((decodeResult(encodeRecord(recordOf(extraProps)), 'test').values[0] as typeof extraProps).note, 'kept by v8')
})

t.test('an Object.prototype.toJSON set by someone else changes nothing', async (t) => {
  const proto = Object.prototype as unknown as Record<string, unknown>
  proto.toJSON = () => 'polluted'
  try {
    const record = recordOf({ a: 1 })
    t.notOk(jsonExact(record), 'not JSON: JSON.stringify would call it')
    t.same(decodeResult(encodeRecord(record), 'test').values[0], { a: 1 })
  } finally {
    delete proto.toJSON
  }
})

t.test('an Array.prototype.toJSON set by someone else (Prototype.js does) changes nothing', async (t) => {
  const proto = Array.prototype as unknown as Record<string, unknown>
  proto.toJSON = () => 'polluted'
  try {
    const args = [[1, 2, 3], { list: ['a', 'b'] }]
    const record = recordOf(args)
    t.notOk(jsonExact(record), 'not JSON: JSON.stringify would call it for every array')
    t.same(decodeResult(encodeRecord(record), 'test').values[0], args, 'the arrays come back as arrays')
  } finally {
    delete proto.toJSON
  }
  const ex = new DebugExecutor({ folder: t.testdir() + '/%j' })
  proto.toJSON = () => 'polluted'
  try {
    const job = await ex.submit(echo, [1, 2, 3])
    t.same(await job.result(), [1, 2, 3], 'a job given an array gets the array back, not what toJSON returns')
  } finally {
    delete proto.toJSON
    await ex.shutdown()
  }
})

t.test('which records are JSON: plain data, without long strings or a majority of fractions', async (t) => {
  t.ok(jsonExact(recordOf([0.001, { epochs: 10, name: 'run-1', tags: ['a', 'b'] }])), 'small plain arguments')
  const asJson = ['a lone surrogate', 'escapes', 'integer-like keys', 'doubles', 'an own __proto__ key', 'deep', 'many objects']
  for (const [label, make] of hostile) t.equal(jsonExact(recordOf(make())), asJson.includes(label), `${label}: ${asJson.includes(label) ? 'JSON' : 'v8'}`)
  const fractions = Array.from({ length: 10_000 }, (_, i) => (i + 0.5) / 7)
  t.notOk(jsonExact(recordOf(fractions)), 'mostly fractional numbers: v8 (it copies them, JSON prints them)')
  t.ok(jsonExact(recordOf(fractions.slice(0, 100))), 'a few: JSON')
  t.ok(jsonExact(recordOf(Array.from({ length: 100_000 }, (_, i) => ({ i, name: `x${i}` })))), 'large, integers and strings: JSON')
  // a submission: its argument lists and fnIndex are the executor's; what they hold is still checked
  const submission = (args: unknown[][]) => ({ format: 'submitit-ts/submission', args, fnIndex: args.map(() => 0) })
  const sub = submission(Array.from({ length: 100_000 }, (_, i) => [i]))
  t.ok(jsonExact(sub, sub), '100,000 argument lists of integers: JSON')
  for (const [label, arg] of [
    ['an argument with properties beside its items', extraProps],
    ['an argument with a hole', holey()],
    ['a shared argument object', shared],
  ] as const) {
    const s = submission([[arg], [shared]])
    t.notOk(jsonExact(s, s), `${label}: v8`)
  }
  t.equal(encodeRecord(recordOf(new Map()))[0], 0xff, 'a v8 record starts with v8 version tag')
  t.equal(encodeRecord(recordOf(1))[0], '{'.charCodeAt(0), 'a JSON record with {')
})

for (const [name, make] of [
  ['LocalExecutor', (folder: string) => new LocalExecutor({ folder, maxWorkers: 2 })],
  ['DebugExecutor', (folder: string) => new DebugExecutor({ folder })],
] as const) {
  t.test(`${name}: every hostile value comes back as the task returned it, through its files`, async (t) => {
    const folder = path.join(t.testdir(), '%j')
    const ex = make(folder)
    t.teardown(() => ex.shutdown())
    const sendable = hostile.filter(([label]) => !['a Proxy', 'a toJSON function', 'properties beside the items', 'a null-prototype object'].includes(label))
    for (const [label, make] of sendable) {
      const job = await ex.submit(echo, make())
      const back = await job.result()
      t.ok(isDeepStrictEqual(back, v8.deserialize(v8.serialize(make()))), `${label}: as sent`)
    }
    // the small job's own records took the JSON path: its submission and result are JSON files
    const job = await ex.submit(echo, { lr: 0.1, tags: ['a'] })
    t.same(await job.result(), { lr: 0.1, tags: ['a'] })
    const dir = path.dirname(job.paths.submitted)
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.v8'))
    t.ok(files.length >= 2, 'a submission and a result file')
    for (const f of files) t.equal(fs.readFileSync(path.join(dir, f))[0], '{'.charCodeAt(0), `${f} is JSON`)
    t.same(readSubmission(job.paths.submitted).args, [[{ lr: 0.1, tags: ['a'] }]])
  })
}

t.test('a damaged JSON record is refused, naming the file and what to do', async (t) => {
  const dir = t.testdir()
  const file = path.join(dir, 'a1_0_result.v8')
  const bytes = encodeRecord(recordOf({ a: 1 }))
  fs.writeFileSync(file, bytes.subarray(0, bytes.length - 5))
  t.throws(() => readResult(file), { message: new RegExp(`cannot read ${file}: .*changed or cut short: submit the job again`) })
  fs.writeFileSync(file, JSON.stringify({ format: 'something/else', version: 2 }))
  t.throws(() => readResult(file), { message: /is not a submitit-ts\/result file/ })
  fs.writeFileSync(file, JSON.stringify({ ...recordOf(1), version: 99 }))
  t.throws(() => readResult(file), { message: /written in format 99 by a newer submitit-ts/ })
})
