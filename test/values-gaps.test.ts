// Smaller value gaps: never change a value silently. An own "__proto__" key survives next to a
// URL; properties set on a Date, Map or Set are refused (v8 drops them); a value nested too deeply
// is refused with a clear message, not a bare stack overflow.
import t from 'tap'
import { LocalExecutor, UnserializableValueError } from '../dist/lib/index.js'
import { echo } from '../dist/fixtures/tasks.js'
import { BigVault, Palette, Vault } from '../dist/fixtures/trust-tasks.js'
import { rejection } from './helpers/waiting.js'

t.test('values at the edges', async (t) => {
  const ex = new LocalExecutor({ folder: `${t.testdir()}/%j`, maxWorkers: 1 })
  t.teardown(() => ex.shutdown())

  const withProto = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>
  const withBoth = { ...{ url: new URL('https://example.org/') } } as Record<string, unknown>
  Object.defineProperty(withBoth, '__proto__', { value: { own: 1 }, enumerable: true, writable: true, configurable: true })
  for (const v of [withProto, withBoth]) {
    const back = (await (await ex.submit(echo, v)).result()) as Record<string, unknown>
    t.ok(Object.hasOwn(back, '__proto__'), 'the own __proto__ key is kept')
    t.equal(Object.getPrototypeOf(back), Object.prototype, 'the prototype is not changed')
    t.same(Object.getOwnPropertyDescriptor(back, '__proto__')?.value, Object.getOwnPropertyDescriptor(v, '__proto__')?.value)
  }
  t.type(((await (await ex.submit(echo, withBoth)).result()) as { url: unknown }).url, URL)

  for (const [label, v] of [
    ['Date', Object.assign(new Date(0), { tz: 'UTC' })],
    ['Map', Object.assign(new Map(), { meta: 1 })],
    ['Set', Object.assign(new Set([1]), { meta: 1 })],
    ['RegExp', Object.assign(/x/, { note: 'y' })],
  ] as const) {
    const e = await rejection(ex.submit(echo, { value: v }))
    t.type(e, UnserializableValueError, label)
    t.match(e.message, new RegExp(`argument 1 of echo\\.value is a ${label} instance with properties of its own`), label)
  }

  // v8 sends a RegExp as its source and flags: where a /g or /y one had got to would be lost
  const sticky = /a/g
  sticky.exec('aaa')
  const lastIndex = await rejection(ex.submit(echo, { re: sticky }))
  t.type(lastIndex, UnserializableValueError)
  t.match(lastIndex.message, /argument 1 of echo\.re is a RegExp whose lastIndex is 1, which would arrive as 0/)
  t.same(((await (await ex.submit(echo, /a/g)).result()) as RegExp).flags, 'g', 'one at lastIndex 0 is sent')

  // private members (#key) are no own properties: a re-created instance would not have them
  for (const v of [new Vault('k'), new BigVault('k')]) {
    const e = await rejection(ex.submit(echo, v))
    t.type(e, UnserializableValueError)
    t.match(e.message, new RegExp(`argument 1 of echo is an instance of class ${v.constructor.name}, which has private members \\(#key\\)`))
  }
  const palette = (await (await ex.submit(echo, new Palette())).result()) as Palette
  t.ok(palette instanceof Palette && palette.color === '#fff', "a '#' in a string is no private member")

  let deep: Record<string, unknown> = {}
  const root = deep
  for (let i = 0; i < 20_000; i++) deep = (deep.next = {}) as Record<string, unknown>
  const e = await rejection(ex.submit(echo, root))
  t.type(e, UnserializableValueError)
  t.match(e.message, /argument 1 of echo is nested too deeply to be sent/)
})
