// Values that cross to a worker thread and back: what v8 would silently change is either preserved
// or refused at submit time with an error that names the argument and its type.
import fs from 'node:fs'
import t from 'tap'
import { FailedJobError, LocalExecutor, UnserializableValueError } from '../dist/lib/index.js'
import { add, describe, echo, fails, failsWithCause, movePoint, norm, Point, returnsFunction, ValidationError } from '../dist/fixtures/tasks.js'
import {
  checkTree,
  fahrenheit,
  failsRegistered,
  failsWithFunctionProp,
  RegisteredError,
  returnsSymbol,
  returnsUnregistered,
  returnsUrl,
  Temperature,
  TreeNode,
  warm,
} from '../dist/fixtures/core-tasks.js'
import { listFiles } from './helpers/files.js'
import { rejection } from './helpers/waiting.js'

const folder = t.testdir()
const ex = new LocalExecutor({ folder: `${folder}/%j`, maxWorkers: 2 })
t.teardown(() => ex.shutdown())

/** echo(v) through a worker and back */
async function roundTrip<T>(v: T): Promise<T> {
  return (await (await ex.submit(echo, v)).result()) as T
}

t.test('registered class instances arrive with their prototype and methods, both ways', async (t) => {
  t.equal(await (await ex.submit(norm, new Point(3, 4))).result(), 5, 'the worker called p.norm()')
  const moved = await (await ex.submit(movePoint, new Point(1, 2), 10)).result()
  t.ok(moved instanceof Point, 'returned instance is a Point')
  t.same({ x: moved.x, y: moved.y }, { x: 11, y: 2 })
  t.equal(moved.norm(), Math.hypot(11, 2), 'its method works')
  const back = await roundTrip({ list: [new Point(0, 1)], m: new Map([['p', new Point(5, 12)]]) })
  t.ok(back.list[0] instanceof Point, 'nested in an array')
  t.equal(back.m.get('p')!.norm(), 13, 'nested in a Map')
  // a getter on the prototype is not a problem: the prototype comes back
  t.equal(await (await ex.submit(fahrenheit, new Temperature(100))).result(), 212)
  const warmer = await (await ex.submit(warm, new Temperature(20), 5)).result()
  t.ok(warmer instanceof Temperature)
  t.equal(warmer.fahrenheit, 77)
})

t.test('an unregistered class instance is refused at submit, naming the argument and the class', async (t) => {
  class Unregistered {
    v = 1
  }
  const e1 = await rejection(ex.submit(echo, new Unregistered()))
  t.type(e1, UnserializableValueError)
  t.match(e1.message, /argument 1\b/)
  t.match(e1.message, /Unregistered/)
  t.match(e1.message, /serializable/, 'says how to fix it')
  const e2 = await rejection(ex.submit(add, 1, new Unregistered() as unknown as number))
  t.match(e2.message, /argument 2\b/)
  t.match(e2.message, /Unregistered/)
  const e3 = await rejection(ex.submit(echo, { deep: [1, { inner: new Unregistered() }] }))
  t.match(e3.message, /argument 1/)
  t.match(e3.message, /deep/, 'names the path inside the argument')
  t.match(e3.message, /Unregistered/)
})

t.test('URL arrives as URL', async (t) => {
  const u = new URL('https://example.com/a%20b?q=1#frag')
  const back = await roundTrip(u)
  t.ok(back instanceof URL, 'is a URL')
  t.equal(back.href, u.href)
  t.equal(back.searchParams.get('q'), '1')
  const nested = await roundTrip({ where: [u, u] })
  t.ok(nested.where[0] instanceof URL)
  t.equal(nested.where[0], nested.where[1], 'one URL referenced twice stays one object')
  const returned = await (await ex.submit(returnsUrl, 'file:///tmp/x y')).result()
  t.ok(returned instanceof URL, 'a returned URL is a URL')
  t.equal(returned.pathname, '/tmp/x%20y')
})

t.test('custom Error subclass as an argument keeps name, message, stack, cause and code', async (t) => {
  const cause = Object.assign(new TypeError('the cause'), { code: 'E_CAUSE' })
  const err = new ValidationError('bad input', 'E_BAD')
  ;(err as Error).cause = cause
  const back = await roundTrip(err)
  t.ok(back instanceof Error, 'is an Error')
  t.equal(back.name, 'ValidationError')
  t.equal(back.message, 'bad input')
  t.equal(back.code, 'E_BAD')
  t.equal(back.stack, err.stack, 'the stack is the original one')
  const c = back.cause as Error & { code: string }
  t.ok(c instanceof TypeError, 'a built-in cause keeps its type')
  t.equal(c.message, 'the cause')
  t.equal(c.code, 'E_CAUSE')
  // a registered Error subclass comes back as that class
  const reg = await roundTrip(new RegisteredError('registered', 'E_REG'))
  t.ok(reg instanceof RegisteredError, 'a registered error class is restored')
  t.equal(reg.describe(), 'E_REG: registered')
})

t.test('custom Error subclass thrown by a task keeps name, message, stack, cause and code', async (t) => {
  const job = await ex.submit(fails, 'nope')
  const e = (await rejection(job.result())) as FailedJobError
  t.type(e, FailedJobError)
  const remote = e.cause as Error & { code: string }
  t.equal(remote.name, 'ValidationError')
  t.equal(remote.message, 'nope')
  t.equal(remote.code, 'E_BAD')
  t.match(remote.stack, /fixtures[\\/]tasks/, 'the stack is the remote one')
  t.match(remote.stack, /ValidationError: nope/)

  const withCause = (await rejection((await ex.submit(failsWithCause)).result())) as FailedJobError
  const outer = withCause.cause as Error
  t.equal(outer.message, 'outer')
  const inner = outer.cause as Error & { code: string }
  t.ok(inner instanceof Error, 'the cause is an Error')
  t.equal(inner.message, 'inner')
  t.equal(inner.code, 'E_INNER')

  const reg = (await rejection((await ex.submit(failsRegistered, 'boom')).result())) as FailedJobError
  const r = reg.cause as RegisteredError
  t.ok(r instanceof RegisteredError, 'a registered error thrown remotely is restored as its class')
  t.equal(r.describe(), 'E_REG: boom')
  t.ok(r.cause instanceof RangeError)
  t.equal((r.cause as Error).message, 'deep')
})

t.test('getters are refused at submit', async (t) => {
  const e = await rejection(
    ex.submit(echo, {
      a: 1,
      get b() {
        return 2
      },
    }),
  )
  t.type(e, UnserializableValueError)
  t.match(e.message, /argument 1/)
  t.match(e.message, /\bb\b/, 'names the property')
  t.match(e.message, /getter/)
})

t.test('Symbol keys are refused at submit', async (t) => {
  const e = await rejection(ex.submit(echo, { a: 1, [Symbol('k')]: 2 }))
  t.type(e, UnserializableValueError)
  t.match(e.message, /argument 1/)
  t.match(e.message, /Symbol key/)
})

t.test('functions, Symbols, Promises, WeakMaps are refused at submit with position and type', async (t) => {
  const cases: [string, unknown, RegExp][] = [
    [
      'function',
      function myFn() {
        return 1
      },
      /function myFn/,
    ],
    ['arrow', () => 1, /function/],
    ['Symbol', Symbol('s'), /Symbol/],
    ['Promise', Promise.resolve(1), /Promise/],
    ['WeakMap', new WeakMap(), /WeakMap/],
    ['WeakSet', new WeakSet(), /WeakSet/],
  ]
  for (const [what, v, re] of cases) {
    const e1 = await rejection(ex.submit(echo, v))
    t.type(e1, UnserializableValueError, `${what}: an UnserializableValueError`)
    t.match(e1.message, /argument 1\b/, `${what}: names argument 1`)
    t.match(e1.message, re, `${what}: names its type`)
    const e2 = await rejection(ex.submit(add, 1, v as number))
    t.match(e2.message, /argument 2\b/, `${what}: names argument 2`)
    const e3 = await rejection(ex.submit(echo, { nested: { list: [0, v] } }))
    t.match(e3.message, /nested/, `${what}: nested, names the path`)
    t.match(e3.message, re, `${what}: nested, names its type`)
  }
  const inMap = await rejection(ex.submit(echo, new Map([['k', () => 1]])))
  t.match(inMap.message, /function/, 'inside a Map')
  const inSet = await rejection(ex.submit(echo, new Set([Symbol('x')])))
  t.match(inSet.message, /Symbol/, 'inside a Set')
})

t.test('Map, Set, Date, BigInt, typed arrays, RegExp survive', async (t) => {
  const value = {
    map: new Map<unknown, unknown>([
      ['a', 1],
      [2, { b: [3] }],
    ]),
    set: new Set([1, 'two', 3n]),
    date: new Date('2024-02-29T12:34:56.789Z'),
    big: 2n ** 100n,
    f64: new Float64Array([1.5, -0, NaN, Infinity]),
    u8: new Uint8Array([0, 255, 7]),
    i32: new Int32Array([-1, 2 ** 31 - 1]),
    big64: new BigInt64Array([-(2n ** 63n)]),
    re: /a+b/gi,
    nested: [undefined, null, -0, 'str', [new Date(0)]],
  }
  const back = await roundTrip(value)
  t.same(back, value)
  t.ok(back.map instanceof Map)
  t.equal(back.map.get('a'), 1)
  t.ok(back.set instanceof Set)
  t.ok(back.set.has(3n))
  t.ok(back.date instanceof Date)
  t.equal(back.date.getTime(), value.date.getTime())
  t.equal(back.big, 2n ** 100n)
  t.ok(back.f64 instanceof Float64Array)
  t.ok(Object.is(back.f64[1], -0) && Number.isNaN(back.f64[2]))
  t.ok(back.u8 instanceof Uint8Array)
  t.ok(back.i32 instanceof Int32Array)
  t.ok(back.big64 instanceof BigInt64Array)
  t.equal(back.big64[0], -(2n ** 63n))
  t.ok(back.re instanceof RegExp)
  t.equal(back.re.flags, 'gi')
  t.equal(await (await ex.submit(describe, new Map())).result(), '[object Map]:Map', 'the worker sees a Map')
  t.equal(await (await ex.submit(describe, new Float32Array(2))).result(), '[object Float32Array]:Float32Array')
  t.equal(await (await ex.submit(describe, new Date())).result(), '[object Date]:Date')
  t.equal(await (await ex.submit(describe, 5n)).result(), '[object BigInt]:BigInt')
})

t.test('cycles and shared references survive (plain values)', async (t) => {
  const shared = { s: 1 }
  const cyc: Record<string, unknown> = { name: 'root', a: shared, b: shared }
  cyc.self = cyc
  const arr: unknown[] = [1]
  arr.push(arr)
  cyc.arr = arr
  const back = (await roundTrip(cyc)) as typeof cyc & { a: object; b: object; arr: unknown[] }
  t.equal(back.self, back, 'a cycle to itself')
  t.equal(back.a, back.b, 'a shared object stays shared')
  t.equal(back.arr[1], back.arr, 'a cyclic array')
})

t.test('cycles and shared references survive when the value also holds a URL', async (t) => {
  // the URL makes the encoder copy the object: the copy must keep the cycle and the sharing
  const shared = { s: 1, u: new URL('https://shared.example/') }
  const cyc: Record<string, unknown> = { a: shared, b: shared }
  cyc.self = cyc
  cyc.u = new URL('https://example.com/')
  const back = (await roundTrip(cyc)) as { self: unknown; a: object; b: object; u: URL }
  t.ok(back.u instanceof URL)
  t.equal(back.a, back.b, 'a shared object holding a URL stays shared')
  t.ok((back.a as { u: unknown }).u instanceof URL)
  t.equal(back.self, back, 'a cycle met after the copy was made')
})

t.test('a back-reference met before the first marker keeps the cycle', async (t) => {
  // the cycle is walked first, the URL (which forces a copy) comes after it
  const cyc: Record<string, unknown> = {}
  cyc.self = cyc
  cyc.child = { parent: cyc }
  cyc.u = new URL('https://example.com/')
  const back = (await roundTrip(cyc)) as { self: { u: unknown }; child: { parent: { u: unknown } }; u: URL }
  t.ok(back.u instanceof URL, 'the top-level URL is a URL')
  t.equal(back.self, back, 'o.self === o')
  t.equal(back.child.parent, back, 'o.child.parent === o')
  t.ok(back.self.u instanceof URL, 'no URL silently turned into {} through the cycle')
  const arr: unknown[] = []
  arr.push(arr)
  arr.push(new URL('http://x/'))
  const a2 = await roundTrip(arr)
  t.equal(a2[0], a2, 'a[0] === a for an array holding a URL')
})

t.test('cycles through registered class instances survive', async (t) => {
  const root = new TreeNode('root')
  root.add('child')
  const back = await roundTrip(root)
  t.ok(back instanceof TreeNode)
  t.ok(back.children[0] instanceof TreeNode)
  t.equal(back.children[0].label, 'child')
  t.equal(back.children[0].parent, back, 'the child points back to its parent')
  t.same(
    await (await ex.submit(checkTree, root)).result(),
    { isNode: true, childIsNode: true, parentIsRoot: true, label: 'child' },
    'the worker sees the same tree',
  )
})

t.test('subclasses of built-ins and non-enumerable properties are refused', async (t) => {
  class MyMap extends Map {}
  class MyArray extends Array {}
  class MyBytes extends Uint8Array {}
  for (const [what, v] of [
    ['Map subclass', new MyMap()],
    ['Array subclass', MyArray.from([1])],
    ['typed array subclass', new MyBytes(2)],
  ] as const) {
    const e = await rejection(ex.submit(echo, v))
    t.type(e, UnserializableValueError, what)
    t.match(e.message, /argument 1/, `${what}: names the argument`)
    t.match(e.message, /^argument 1 .*My(Map|Array|Bytes)/, `${what}: names the class`)
  }
  const e = await rejection(ex.submit(echo, Object.defineProperty({ a: 1 }, 'hidden', { value: 1, enumerable: false })))
  t.match(e.message, /hidden/)
  t.match(e.message, /non-enumerable/)
})

t.test('AggregateError keeps its errors', async (t) => {
  const back = await roundTrip(new AggregateError([new Error('a'), new TypeError('b')], 'several'))
  t.ok(back instanceof AggregateError)
  t.equal(back.message, 'several')
  t.equal(back.errors?.length, 2, 'errors has both errors')
  t.ok(back.errors?.[1] instanceof TypeError, 'each keeps its type')
})

t.test('a null-prototype object keeps its null prototype', async (t) => {
  const dict = Object.create(null) as Record<string, number>
  dict.x = 1
  const back = await roundTrip(dict)
  t.equal(back.x, 1)
  t.equal(Object.getPrototypeOf(back), null, 'its prototype is still null')
})

t.test('a task returning a function gives a FAILED job with a clear error', async (t) => {
  const job = await ex.submit(returnsFunction)
  const e = (await rejection(job.result())) as FailedJobError
  t.equal(job.state, 'FAILED', 'the job is FAILED, not lost')
  t.type(e, FailedJobError)
  t.match(e.message, /result/)
  t.match(e.message, /function/)
  t.match(e.message, new RegExp(job.jobId))
  const ex2 = await job.exception()
  t.match(ex2?.message, /function/)

  const sym = await ex.submit(returnsSymbol)
  t.match((await rejection(sym.result())).message, /Symbol/)
  t.equal(sym.state, 'FAILED')
  const unreg = await ex.submit(returnsUnregistered)
  t.match((await rejection(unreg.result())).message, /NotRegistered/)
  t.equal(unreg.state, 'FAILED')
})

t.test('an error with an unsendable property still reports its own message', async (t) => {
  const job = await ex.submit(failsWithFunctionProp, 'the real problem')
  const e = (await rejection(job.result())) as FailedJobError
  t.equal(job.state, 'FAILED')
  t.match(e.message, /the real problem/, 'the message the task threw is kept')
  t.match(e.remoteStack ?? '', /core-tasks/, 'the remote stack points to the task')
  t.equal((e.cause as { code?: string })?.code, 'E_FN', 'its sendable properties are kept')
})

t.test('a refused argument writes no submission', async (t) => {
  const dir = t.testdir()
  const ex2 = new LocalExecutor({ folder: `${dir}/%j`, maxWorkers: 1 })
  t.teardown(() => ex2.shutdown())
  await rejection(ex2.submit(echo, () => 1))
  const e = await rejection(ex2.mapArray(echo, [1, 2, 3, new WeakMap(), 5]))
  t.match(e.message, /element 3/, 'names the element of the array')
  t.match(e.message, /WeakMap/)
  t.same(listFiles(dir), [], 'no file at all was written')
  t.ok(fs.existsSync(dir))
})
