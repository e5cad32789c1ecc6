// The check before v8 (lib/core/values.ts), called directly: plain objects and arrays take a fast
// path (one descriptor per property), and it must refuse exactly what the general path refuses, at
// the same place, for plain objects, null-prototype objects and registered classes alike, and leave
// untouched (uncopied, unmarked) what v8 carries as it is.
import t from 'tap'
import { UnserializableValueError } from '../dist/lib/index.js'
import { encodeArgs, encodeValue, serializable } from '../dist/lib/core/values.js'

class Point {
  x = 1
}
serializable(import.meta.url, Point)

function refusal(value: unknown): UnserializableValueError {
  try {
    encodeValue(value, 'argument 1 of f')
  } catch (e) {
    if (e instanceof UnserializableValueError) return e
    throw e
  }
  throw new Error('not refused')
}

const getter = (): Record<string, unknown> => Object.defineProperty({ a: 1 }, 'g', { get: () => 1, enumerable: true })
const setter = (): Record<string, unknown> => Object.defineProperty({ a: 1 }, 's', { set: () => {}, enumerable: true })
const hidden = (): Record<string, unknown> => Object.defineProperty({ a: 1 }, 'h', { value: 2, enumerable: false })
const symbolKey = (): Record<string | symbol, unknown> => ({ a: 1, [Symbol('k')]: 2 })
const reserved = (): Record<string, unknown> => ({ __submitit_ts__: 'url', href: 'x' })

t.test('what a plain object would lose is refused, naming the property', async (t) => {
  for (const [label, make, where, why] of [
    ['getter', getter, /argument 1 of f\.g /, /getter or setter/],
    ['setter', setter, /argument 1 of f\.s /, /getter or setter/],
    ['non-enumerable', hidden, /argument 1 of f\.h /, /non-enumerable/],
    ['Symbol key', symbolKey, /argument 1 of f /, /Symbol keys/],
    ['reserved key', reserved, /argument 1 of f /, /reserved key/],
  ] as const) {
    t.match(refusal(make()).message, why, `${label}: says why`)
    t.match(refusal(make()).message, where, `${label}: says where`)
    // the same, deep inside arrays and objects: the path is kept
    const deep = refusal({ a: [{ b: [0, make()] }] })
    t.match(deep.message, why, `${label}, nested: says why`)
    t.match(deep.message, /argument 1 of f\.a\[0\]\.b\[1\]/, `${label}, nested: the path`)
  }
})

t.test('null-prototype objects and registered classes are checked the same way', async (t) => {
  const nullProto = Object.create(null) as Record<string, unknown>
  nullProto.ok = 1
  Object.defineProperty(nullProto, 'g', { get: () => 1, enumerable: true })
  t.match(refusal(nullProto).message, /\.g is a getter or setter/)
  const p = new Point()
  Object.defineProperty(p, 'h', { value: 2, enumerable: false })
  t.match(refusal(p).message, /\.h is a non-enumerable property/)
  const q = new Point() as Point & Record<symbol, unknown>
  q[Symbol('s')] = 1
  t.match(refusal(q).message, /Symbol keys/)
})

t.test('the order of the checks: the first bad property in own-key order is the one named', async (t) => {
  const o: Record<string, unknown> = { 2: 'two', a: 1 }
  Object.defineProperty(o, 'z', { get: () => 1, enumerable: true })
  Object.defineProperty(o, '1', { value: 1, enumerable: false })
  t.match(refusal(o).message, /f\.1 is a non-enumerable property/, 'integer keys come first, as v8 and getOwnPropertyNames order them')
})

t.test('plain data passes through uncopied and unmarked; what needs markers is marked', async (t) => {
  const data = { a: [1, 'x', { b: null, c: [true, 2n] }], d: new Date(0), m: new Map([[1, { e: 1 }]]) }
  const enc = encodeValue(data, 'x')
  t.equal(enc.value, data, 'the same object, not a copy')
  t.equal(enc.marked, false)
  const shared = { s: 1 }
  const cyclic: Record<string, unknown> = { shared, again: shared, list: [shared, shared] }
  cyclic.self = cyclic
  t.equal(encodeValue(cyclic, 'x').marked, false, 'cycles and shared references are walked once')
  t.equal(encodeValue({ u: new URL('https://example.org/') }, 'x').marked, true)
  t.equal(encodeValue({ p: new Point() }, 'x').marked, true)
  const own = JSON.parse('{"__proto__": {"x": 1}}') as Record<string, unknown>
  t.equal(encodeValue(own, 'x').value, own, 'an own "__proto__" key is plain data')
  const args = encodeArgs([1, { a: 1 }, 'z'], (j) => `argument ${j + 1}`)
  t.equal(args.marked, false)
})

t.test('exotic objects on the fast path: arguments, a Proxy, an array with a getter element', async (t) => {
  const argumentsObject = (function (..._: unknown[]) {
    // biome-ignore lint/complexity/noArguments: the arguments object is what is checked
    return arguments
  })(1, 2)
  t.match(refusal(argumentsObject).message, /Symbol keys/, 'arguments (its own Symbol.iterator) is refused, as before')
  const proxied = new Proxy({ a: 1 }, {})
  t.equal(encodeValue(proxied, 'x').marked, false, 'a transparent Proxy passes the check (v8 itself refuses it later, naming it)')
  const arr = [1, 2] as unknown[]
  Object.defineProperty(arr, 0, { get: () => ({ f: () => 1 }), enumerable: true })
  t.throws(() => encodeValue(arr, 'x'), /function/, 'an array element read through its getter is checked like any element')
})

// The walk keeps no set of visited objects until a value is deeper than 64 levels or holds more
// than a million objects (a cycle, a long chain, parts shared again and again): then it walks again
// with the set. Both walks must end, and refuse the same things at the same places.
t.test('cycles, deep chains and heavily shared parts: the check ends and finds what it must', { timeout: 120_000 }, async (t) => {
  const cyclic: Record<string, unknown> = { a: { b: [1, 2] } }
  ;(cyclic.a as Record<string, unknown>).self = cyclic
  t.same(encodeValue(cyclic, 'x'), { value: cyclic, marked: false }, 'a cycle of plain objects: sent as it is')
  ;(cyclic.a as Record<string, unknown>).fn = () => 1
  t.match(refusal(cyclic).message, /argument 1 of f\.a\.fn is a function/, 'a function inside a cycle: refused at its place')

  // 2^60 paths through 60 levels of [x, x]: walked once each with the set
  let shared: unknown = { leaf: true }
  for (let i = 0; i < 60; i++) shared = [shared, shared]
  t.same(encodeValue(shared, 'x').marked, false, 'parts shared along 2^60 paths: checked once each')
  let bad: unknown = { leaf: Symbol('s') }
  for (let i = 0; i < 60; i++) bad = [bad, bad]
  t.match(refusal(bad).message, /argument 1 of f(\[0\]){60}\.leaf is a Symbol/, 'and refused at the first path to it')

  // a chain deeper than the untracked walk goes, with a bad value at its end
  const head: Record<string, unknown> = {}
  let node = head
  for (let i = 0; i < 500; i++) node = node.next = {}
  node.when = new (class Hidden {})()
  t.match(refusal(head).message, /argument 1 of f(\.next){500}\.when is an? .*Hidden/, 'found 500 levels down, its path whole')

  // a million and more objects, each visited once
  const many = Array.from({ length: 1_100_000 }, (_, i) => ({ i }))
  t.equal(encodeValue(many, 'x').value, many, 'a million small objects: sent as they are')
  many[1_099_999] = { i: new URL('https://example.com') as unknown as number }
  t.equal(encodeValue(many, 'x').marked, true, 'the last of them needing a marker is seen')
})
