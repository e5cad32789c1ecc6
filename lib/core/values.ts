// Values that cross a thread or a node go through v8 serialization, which silently changes some of
// them (class instances lose their prototype, URL becomes {}, custom errors lose name and code,
// getters become data). This module walks a value before v8 sees it: what can be preserved is
// replaced by a marker that `decodeValue` turns back into the same kind of value; what cannot is
// refused with an error naming where it is and what to do.
import v8 from 'node:v8'
import { UnserializableValueError } from './errors.js'
import { importModule } from './task.js'

/** Key of the marker objects; a user object with this key is refused. */
const MARK = '__submitit_ts__'

interface ClassRef {
  module: string
  name: string
}
const registeredClasses = new WeakMap<Function, ClassRef>()

/**
 * Marks a class as safe to send: its instances are re-created with their prototype on the other side,
 * the way pickle restores a class by reference. Call it in the module that exports the class:
 * `export class Point { ... }; serializable(import.meta.url, Point)`.
 */
export function serializable<C extends abstract new (...args: never[]) => unknown>(moduleUrl: string, cls: C): C {
  registeredClasses.set(cls, { module: moduleUrl, name: cls.name })
  return cls
}

/** Prototypes v8 keeps as they are (its host objects and built-ins). */
const KEPT_AS_IS = new Set<unknown>([
  Object.prototype,
  Array.prototype,
  Date.prototype,
  RegExp.prototype,
  Map.prototype,
  Set.prototype,
  ArrayBuffer.prototype,
  DataView.prototype,
  Boolean.prototype,
  Number.prototype,
  String.prototype,
  BigInt.prototype,
  Buffer.prototype,
  ...[
    Int8Array,
    Uint8Array,
    Uint8ClampedArray,
    Int16Array,
    Uint16Array,
    Int32Array,
    Uint32Array,
    Float32Array,
    Float64Array,
    BigInt64Array,
    BigUint64Array,
  ].map((c) => c.prototype),
])
/** Built-in errors, re-created with their own type. */
const BUILTIN_ERRORS_BY_NAME = new Map<string, Function>(
  [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, AggregateError].map((c) => [c.name, c]),
)

type Marker =
  | { [MARK]: 'url'; href: string }
  | { [MARK]: 'error'; name: string; message: string; stack?: string; cause?: unknown; errors?: unknown[]; props: Record<string, unknown>; cls?: ClassRef }
  | { [MARK]: 'instance'; cls: ClassRef; props: Record<string, unknown> }
  | { [MARK]: 'nullproto'; props: Record<string, unknown>; cls?: undefined }

/** Result of encoding: the value to give v8, and whether `decodeValue` has markers to undo. */
export interface Encoded {
  value: unknown
  marked: boolean
}

function typeName(v: unknown): string {
  if (v === null) return 'null'
  if (typeof v === 'function') return `function ${v.name || '(anonymous)'}`
  if (typeof v !== 'object') return typeof v
  const name = Object.getPrototypeOf(v)?.constructor?.name
  return name ? `${name} instance` : 'instance of an anonymous class'
}

function refuse(where: string, what: string, hint: string): never {
  throw new UnserializableValueError(`${where} ${what}; ${hint}`, where)
}

/** Values v8 carries as they are, without looking inside. */
function isOpaque(obj: object, proto: unknown): boolean {
  return (
    ArrayBuffer.isView(obj) ||
    proto === ArrayBuffer.prototype ||
    proto === Date.prototype ||
    proto === RegExp.prototype ||
    proto === Boolean.prototype ||
    proto === Number.prototype ||
    proto === String.prototype ||
    proto === BigInt.prototype
  )
}

const privateOf = new WeakMap<Function, string | undefined>()
// `this.#x`, `obj.#x`, or a member declared `#x` (a field, a method): what a class's source shows of private members
const PRIVATE = /\.\s*#([A-Za-z_$][\w$]*)|^\s*(?:static\s+)?(?:async\s+)?(?:get\s+|set\s+)?\*?\s*#([A-Za-z_$][\w$]*)\s*[=;(]/gm

/**
 * The private members (#x) a registered class or one it extends declares, as its source shows them
 * ('#a, #b'), or undefined: they are not own properties, so a re-created instance would lack them.
 */
function privateMembers(cls: Function): string | undefined {
  if (privateOf.has(cls)) return privateOf.get(cls)
  const names = new Set<string>()
  for (let c: unknown = cls; typeof c === 'function' && c !== Function.prototype && c !== Object; c = Object.getPrototypeOf(c)) {
    let source: string
    try {
      source = Function.prototype.toString.call(c)
    } catch {
      continue
    }
    if (!source.startsWith('class')) continue
    // strings and comments say nothing of members
    const code = source.replace(/'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"|`(?:\\.|[^`\\])*`|\/\/[^\n]*|\/\*[\s\S]*?\*\//g, '""')
    for (const m of code.matchAll(PRIVATE)) names.add(`#${m[1] ?? m[2]}`)
  }
  const found = names.size > 0 ? [...names].join(', ') : undefined
  privateOf.set(cls, found)
  return found
}

/**
 * A walk that keeps no set of the objects it visited (a third of the cost of a large value) gives
 * up past this depth or this many objects: a cycle, a deep chain, or shared parts visited again and
 * again. The walk then starts over with the set (and the stack's own limit, see tooDeep).
 */
const UNTRACKED_DEPTH = 64
const UNTRACKED_VISITS = 1_000_000
const GIVE_UP = Symbol('walk again, tracking what was visited')

/** Where a part of a value is, as its parent holds it: a property, an index, or a label (".<key>"). */
type Step = string | number | { label: string }

/**
 * First pass: refuses what v8 would lose or reject, and tells whether anything needs a marker.
 * Most values need none, and are then given to v8 as they are, uncopied.
 */
function check(value: unknown, where: string | (() => string)): boolean {
  try {
    return checkWalk(value, where, undefined)
  } catch (e) {
    if (e !== GIVE_UP) throw e
  }
  return checkWalk(value, where, new Set())
}

/** check's walk; without `visited`, it throws GIVE_UP past UNTRACKED_DEPTH or UNTRACKED_VISITS. */
function checkWalk(value: unknown, where: string | (() => string), visited: Set<object> | undefined): boolean {
  let needsMarkers = false
  let visits = 0
  // where we are, as a stack of steps formatted only for an error: most values never need it
  const steps: Step[] = []
  const here = (key?: string) =>
    (typeof where === 'string' ? where : where()) +
    steps.map((s) => (typeof s === 'number' ? `[${s}]` : typeof s === 'string' ? `.${s}` : s.label)).join('') +
    (key ?? '')
  const enter = (v: unknown, step: Step): void => {
    steps.push(step)
    walk(v)
    steps.pop()
  }
  /** v8 sends a Date, RegExp, Map or Set without the properties set on it */
  const refuseExtraKeys = (obj: object): void => {
    const extra = Object.keys(obj)
    if (extra.length > 0) {
      refuse(
        here(),
        `is a ${typeName(obj)} with properties of its own (${extra.slice(0, 5).join(', ')}), which would be dropped`,
        'send them beside it, e.g. { value, ...extra }',
      )
    }
  }
  /**
   * The own properties of an object v8 sends as a plain object: refuses what it would drop or turn
   * into data (Symbol keys, non-enumerable properties, getters and setters), then walks the values.
   * One descriptor per property, not getOwnPropertyDescriptors (7x slower: it builds an object).
   */
  const walkProperties = (obj: object): void => {
    if (Object.getOwnPropertySymbols(obj).length > 0) return refuse(here(), 'has Symbol keys, which would be dropped', 'use string keys')
    if (MARK in obj) return refuse(here(), `has the reserved key ${MARK}`, 'rename that key')
    const names = Object.getOwnPropertyNames(obj)
    for (let i = 0; i < names.length; i++) {
      const k = names[i]
      const d = Object.getOwnPropertyDescriptor(obj, k)
      if (d === undefined) continue // removed meanwhile (a Proxy): v8 says so if it matters
      if (d.get || d.set) return refuse(here(`.${k}`), 'is a getter or setter, which would arrive as a plain value', 'pass the value itself')
      if (!d.enumerable) return refuse(here(`.${k}`), 'is a non-enumerable property, which would be dropped', 'make it enumerable or leave it out')
      const item = d.value
      if (typeof item === 'object' || typeof item === 'function' || typeof item === 'symbol') enter(item, k)
    }
  }
  const walk = (v: unknown): void => {
    switch (typeof v) {
      case 'string':
      case 'number':
      case 'boolean':
      case 'undefined':
      case 'bigint':
        return
      case 'function':
        return refuse(here(), `is a ${typeName(v)}`, 'functions cannot be sent: pass data, or export the function as a task and pass its name')
      case 'symbol':
        return refuse(here(), 'is a Symbol', 'Symbols cannot be sent: pass a string')
    }
    if (v === null) return
    const obj = v as object
    if (visited) {
      if (visited.has(obj)) return
      visited.add(obj)
    } else if (++visits > UNTRACKED_VISITS || steps.length > UNTRACKED_DEPTH) {
      throw GIVE_UP
    }
    const proto = Object.getPrototypeOf(obj)
    // the common cases first: a plain object, a plain array (nothing below applies to them)
    if (proto === Object.prototype) return walkProperties(obj)
    if (proto === Array.prototype && Array.isArray(obj)) return walkItems(obj)
    if (isOpaque(obj, proto)) {
      if (ArrayBuffer.isView(obj)) {
        if (!KEPT_AS_IS.has(proto))
          refuse(here(), `is a ${typeName(obj)}`, 'subclasses of typed arrays come back as the base array: pass the plain typed array')
      } else if (proto !== String.prototype) {
        refuseExtraKeys(obj)
        if (proto === RegExp.prototype && (obj as RegExp).lastIndex !== 0) {
          refuse(here(), `is a RegExp whose lastIndex is ${(obj as RegExp).lastIndex}, which would arrive as 0`, 'send the lastIndex beside it')
        }
      }
      return
    }
    if (obj instanceof URL) {
      needsMarkers = true
      return
    }
    if (obj instanceof Error) {
      needsMarkers = true
      const e = obj as Error & Record<string, unknown>
      if ('cause' in e) enter(e.cause, 'cause')
      if (obj instanceof AggregateError) obj.errors.forEach((x, i) => enter(x, { label: `.errors[${i}]` }))
      for (const k of Object.keys(e)) enter(e[k], k)
      return
    }
    if (obj instanceof Promise) return refuse(here(), 'is a Promise', 'await it before submitting and pass its value')
    if (obj instanceof WeakMap || obj instanceof WeakSet || obj instanceof WeakRef) {
      return refuse(here(), `is a ${typeName(obj)}`, 'weak collections cannot be sent: use a Map or Set')
    }
    if (obj instanceof SharedArrayBuffer) return refuse(here(), 'is a SharedArrayBuffer', 'copy it into an ArrayBuffer')
    if (Array.isArray(obj)) {
      if (proto !== Array.prototype) return refuse(here(), `is a ${typeName(obj)}`, 'subclasses of Array come back as plain arrays: pass a plain array')
      return walkItems(obj)
    }
    if (obj instanceof Map) {
      if (proto !== Map.prototype) return refuse(here(), `is a ${typeName(obj)}`, 'subclasses of Map come back as plain Maps')
      refuseExtraKeys(obj)
      for (const [k, item] of obj) {
        enter(k, { label: '.<key>' })
        enter(item, { label: `.get(${String(k)})` })
      }
      return
    }
    if (obj instanceof Set) {
      if (proto !== Set.prototype) return refuse(here(), `is a ${typeName(obj)}`, 'subclasses of Set come back as plain Sets')
      refuseExtraKeys(obj)
      for (const item of obj) enter(item, { label: '.<item>' })
      return
    }
    // a null-prototype object, or an instance of some class
    if (proto !== null && !registeredClasses.has(proto.constructor)) {
      const name = proto?.constructor?.name || 'TheClass'
      return refuse(
        here(),
        `is an instance of ${proto?.constructor?.name ? `class ${proto.constructor.name}` : 'an anonymous class'}, which would arrive as a plain object without its methods`,
        `mark the class with serializable(import.meta.url, ${name}) in the module that exports it, or pass a plain object`,
      )
    }
    const hidden = proto === null ? undefined : privateMembers(proto.constructor)
    if (hidden) {
      return refuse(
        here(),
        `is an instance of class ${proto.constructor.name || '(anonymous)'}, which has private members (${hidden}): an instance is re-created from its own properties, without them`,
        'keep what must travel in ordinary properties',
      )
    }
    needsMarkers = true
    walkProperties(obj)
  }
  const walkItems = (arr: unknown[]): void => {
    for (let i = 0; i < arr.length; i++) {
      const item = arr[i]
      if (typeof item === 'object' || typeof item === 'function' || typeof item === 'symbol') enter(item, i)
    }
  }
  walk(value)
  return needsMarkers
}

/**
 * Second pass, only for values that need markers: a copy of every container, each registered in
 * `seen` before its children are walked, so cycles and shared references stay as they were.
 */
function withMarkers(value: unknown): unknown {
  const seen = new Map<object, unknown>()
  const props = (obj: object, into: Record<string, unknown>): Record<string, unknown> => {
    for (const k of Object.keys(obj)) setOwn(into, k, walk((obj as Record<string, unknown>)[k]))
    return into
  }
  const walk = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v
    if (seen.has(v)) return seen.get(v)
    const proto = Object.getPrototypeOf(v)
    if (isOpaque(v, proto)) return v
    if (v instanceof URL) {
      const m: Marker = { [MARK]: 'url', href: v.href }
      seen.set(v, m)
      return m
    }
    if (v instanceof Error) {
      const e = v as Error & Record<string, unknown>
      const m = { [MARK]: 'error', name: e.name, message: e.message, stack: e.stack, props: {} } as Marker & { [MARK]: 'error' }
      seen.set(v, m)
      const cls = registeredClasses.get(proto.constructor)
      if (cls) m.cls = cls
      if ('cause' in e) m.cause = walk(e.cause)
      if (v instanceof AggregateError) m.errors = v.errors.map(walk)
      for (const k of Object.keys(e)) if (k !== 'stack' && k !== 'message') setOwn(m.props, k, walk(e[k]))
      return m
    }
    if (Array.isArray(v)) {
      const copy: unknown[] = new Array(v.length)
      seen.set(v, copy)
      for (let i = 0; i < v.length; i++) copy[i] = walk(v[i])
      return copy
    }
    if (v instanceof Map) {
      const copy = new Map()
      seen.set(v, copy)
      for (const [k, x] of v) copy.set(walk(k), walk(x))
      return copy
    }
    if (v instanceof Set) {
      const copy = new Set()
      seen.set(v, copy)
      for (const x of v) copy.add(walk(x))
      return copy
    }
    if (proto === null) {
      const m = { [MARK]: 'nullproto', props: {} } as Marker & { [MARK]: 'nullproto' }
      seen.set(v, m)
      props(v, m.props)
      return m
    }
    const cls = proto === Object.prototype ? undefined : registeredClasses.get(proto.constructor)
    if (cls) {
      const m = { [MARK]: 'instance', cls, props: {} } as Marker & { [MARK]: 'instance' }
      seen.set(v, m)
      props(v, m.props)
      return m
    }
    const copy: Record<string, unknown> = {}
    seen.set(v, copy)
    return props(v, copy)
  }
  return walk(value)
}

/**
 * Encodes `value` for v8. `where` names it in errors (e.g. "argument 2 of train"). A value that
 * needs no marker (the common case) is returned as it is.
 */
export function encodeValue(value: unknown, where: string | (() => string)): Encoded {
  if (typeof value !== 'object' && typeof value !== 'function' && typeof value !== 'symbol') return { value, marked: false }
  try {
    return check(value, where) ? { value: withMarkers(value), marked: true } : { value, marked: false }
  } catch (e) {
    throw tooDeep(e, where)
  }
}

/**
 * Encodes the arguments of one job: each is checked on its own (an error names it), and markers,
 * when any is needed, are made over all of them at once, so that `f(o, o)` still gets one object.
 */
export function encodeArgs(args: unknown[], where: (j: number) => string): Encoded {
  let marked = false
  for (let j = 0; j < args.length; j++) {
    const a = args[j]
    if (typeof a !== 'object' && typeof a !== 'function' && typeof a !== 'symbol') continue // sent as it is
    try {
      marked = check(a, () => where(j)) || marked
    } catch (e) {
      throw tooDeep(e, () => where(j))
    }
  }
  return marked ? { value: withMarkers(args), marked } : { value: args, marked }
}

/** A stack overflow while walking a value: say so, instead of a bare RangeError. */
function tooDeep(e: unknown, where: string | (() => string)): unknown {
  if (!(e instanceof RangeError) || e instanceof UnserializableValueError) return e
  const place = typeof where === 'string' ? where : where()
  return new UnserializableValueError(`${place} is nested too deeply to be sent (${e.message}); flatten it, or send it in parts`, place)
}

/**
 * Why v8 refused a value that passed the checks above (a Proxy, a host object, a function kept in
 * an array's extra property...): names the deepest part it refuses. `where` names the value.
 */
export function unsendableError(value: unknown, where: string, cause: unknown): UnserializableValueError {
  if (cause instanceof UnserializableValueError) return cause
  const why = cause instanceof Error ? cause.message : String(cause)
  const place = where + (refusedPart(value, 0) ?? '')
  return new UnserializableValueError(
    `${place} cannot be sent to another thread or node (v8: ${why}); ` +
      'a Proxy, a host object, or a function or Symbol inside it cannot be sent: pass plain data',
    place,
  )
}

/** The path (".a[2]") of the part of `value` v8 refuses, '' when it is the value itself. */
function refusedPart(value: unknown, depth: number): string {
  if (typeof value !== 'object' || value === null || depth > 100) return ''
  let keys: string[]
  try {
    keys = Object.keys(value)
  } catch {
    return ''
  }
  for (const k of keys) {
    const at = Array.isArray(value) && /^\d+$/.test(k) ? `[${k}]` : `.${k}`
    let child: unknown
    try {
      child = (value as Record<string, unknown>)[k]
    } catch {
      return at
    }
    if (typeof child === 'function' || typeof child === 'symbol') return at
    if (typeof child !== 'object' || child === null) continue
    try {
      v8.serialize(child)
    } catch {
      return at + refusedPart(child, depth + 1)
    }
  }
  return ''
}

/** obj[k] = v, also for a key "__proto__" (which an assignment would take as the prototype). */
function setOwn(obj: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(obj, k, { value: v, writable: true, enumerable: true, configurable: true })
  else obj[k] = v
}

/** Loads the classes that markers name (their modules are imported, as a task module is). */
async function loadClasses(refs: ClassRef[]): Promise<Map<string, Function>> {
  const found = new Map<string, Function>()
  for (const ref of refs) {
    const key = `${ref.module}#${ref.name}`
    if (found.has(key)) continue
    const mod = await importModule(ref.module)
    const cls = (typeof mod[ref.name] === 'function' ? mod[ref.name] : Object.values(mod).find((x) => typeof x === 'function' && x.name === ref.name)) as
      | Function
      | undefined
    if (!cls) throw new Error(`class ${ref.name} is not exported from ${ref.module}: export it so the value can be re-created`)
    found.set(key, cls)
  }
  return found
}

function isMarker(v: unknown): v is Marker {
  return typeof v === 'object' && v !== null && MARK in v
}

/** Undoes `encodeValue` on what v8 gave back. Only called when `marked` was true. */
export async function decodeValue(value: unknown): Promise<unknown> {
  const refs: ClassRef[] = []
  const collect = (v: unknown, seen: Set<object>): void => {
    if (typeof v !== 'object' || v === null || seen.has(v)) return
    seen.add(v)
    if (isMarker(v) && v[MARK] !== 'url' && v.cls) refs.push(v.cls)
    if (v instanceof Map)
      for (const [k, x] of v) {
        collect(k, seen)
        collect(x, seen)
      }
    else if (v instanceof Set) for (const x of v) collect(x, seen)
    else if (!ArrayBuffer.isView(v)) for (const x of Object.values(v)) collect(x, seen)
  }
  collect(value, new Set())
  const classes = await loadClasses(refs)

  const done = new Map<object, unknown>()
  const walk = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v)) return v
    if (done.has(v)) return done.get(v)
    if (isMarker(v)) {
      if (v[MARK] === 'url') {
        const u = new URL(v.href)
        done.set(v, u)
        return u
      }
      const cls = v.cls ? classes.get(`${v.cls.module}#${v.cls.name}`)! : undefined
      if (v[MARK] === 'error') {
        const base = cls ?? BUILTIN_ERRORS_BY_NAME.get(v.name) ?? Error
        const e = Object.create(base.prototype) as Error & Record<string, unknown>
        done.set(v, e)
        Object.defineProperty(e, 'message', { value: v.message, writable: true, configurable: true, enumerable: false })
        Object.defineProperty(e, 'stack', { value: v.stack, writable: true, configurable: true, enumerable: false })
        if (e.name !== v.name) Object.defineProperty(e, 'name', { value: v.name, writable: true, configurable: true, enumerable: false })
        if ('cause' in v) Object.defineProperty(e, 'cause', { value: walk(v.cause), writable: true, configurable: true, enumerable: false })
        if (v.errors) Object.defineProperty(e, 'errors', { value: v.errors.map(walk), writable: true, configurable: true, enumerable: false })
        for (const [k, x] of Object.entries(v.props)) if (k !== 'name' || x !== v.name) setOwn(e, k, walk(x))
        return e
      }
      const inst = Object.create(v[MARK] === 'nullproto' ? null : cls!.prototype) as Record<string, unknown>
      done.set(v, inst)
      for (const [k, x] of Object.entries(v.props)) setOwn(inst, k, walk(x))
      return inst
    }
    if (Array.isArray(v)) {
      done.set(v, v)
      for (let i = 0; i < v.length; i++) v[i] = walk(v[i])
      return v
    }
    if (v instanceof Map) {
      const m = new Map()
      done.set(v, m)
      for (const [k, x] of v) m.set(walk(k), walk(x))
      return m
    }
    if (v instanceof Set) {
      const s = new Set()
      done.set(v, s)
      for (const x of v) s.add(walk(x))
      return s
    }
    if (v instanceof Date || v instanceof RegExp || v instanceof ArrayBuffer) return v
    done.set(v, v)
    const o = v as Record<string, unknown>
    for (const k of Object.keys(o)) o[k] = walk(o[k])
    return v
  }
  return walk(value)
}
