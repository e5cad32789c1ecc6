// Records of plain data as JSON. v8's serializer costs ~2 µs a call before any content and ~1 µs per
// field name and short string: a single job's four records (submission and result, each written and
// read) spent ~30 µs in v8, JSON a third of that. On large records of integers, strings and objects
// JSON.stringify + parse take 0.4–0.6× v8's time (a pool thread decodes a 100,000-element submission
// in half the time); v8 stays faster on long strings and on fractional numbers (it copies 8 bytes
// where JSON prints the shortest decimal). JSON is used only where it gives back exactly what v8 would.
import { types } from 'node:util'

/** A string longer than this is copied by v8 several times faster than JSON escapes it. */
const MAX_STRING = 1024
/** Past this many leaves a record is large: then JSON only if at most 1 in FRACTIONAL_SHARE is a fractional number. */
const LARGE = 4096
const FRACTIONAL_SHARE = 4
/** A walk keeps the objects it met in an array up to this many, then in a Set. */
const MET_IN_ARRAY = 16

/** The first byte of a JSON record ('{'); v8's output starts with its version tag, 0xFF. */
const JSON_START = 0x7b

/**
 * Whether JSON.parse(JSON.stringify(value)) is what v8 would give back, and faster: plain objects
 * and dense plain arrays (no Proxy, no toJSON of their own or inherited, no property beside an array's items) of strings of
 * up to MAX_STRING characters, finite numbers other than -0, booleans and null, each object met once
 * (JSON would copy a shared one and fail on a cycle), and in a large value few fractional numbers.
 *
 * `own`: a submission's arrays made by the executor, where no property beside the items is looked
 * for (Object.keys of an array costs up to ~85 ns per item: a tenth of a large record's encoding):
 * `args`, whose items are argument lists, each spread into a call (a property beside a list's items
 * never reaches the task), and `fnIndex`.
 */
export function jsonExact(value: unknown, own?: OwnArrays): boolean {
  // a toJSON every array inherits (Prototype.js and some polyfills define one) would replace each
  // array by what it returns; one an object inherits is looked for on each object (see exact)
  if ('toJSON' in Array.prototype) return false
  const walk: Walk = { met: [], metSet: undefined, leaves: 0, fractional: 0, argLists: own?.args, fnIndex: own?.fnIndex }
  return exact(value, walk, false) && !tooFractional(walk)
}

/** What jsonExact has seen so far (one object per call: no closures to make per record). */
interface Walk {
  met: object[]
  metSet: Set<object> | undefined
  leaves: number
  fractional: number
  argLists: readonly unknown[] | undefined
  fnIndex: readonly unknown[] | undefined
}

/** See jsonExact. */
export interface OwnArrays {
  args: readonly unknown[]
  fnIndex: readonly unknown[]
}

function tooFractional(walk: Walk): boolean {
  return walk.leaves > LARGE && walk.fractional * FRACTIONAL_SHARE > walk.leaves
}

/** Whether `v` was met before in this walk (and notes it). */
function metBefore(v: object, walk: Walk): boolean {
  if (walk.metSet) {
    if (walk.metSet.has(v)) return true
    walk.metSet.add(v)
    return false
  }
  if (walk.met.includes(v)) return true
  walk.met.push(v)
  if (walk.met.length > MET_IN_ARRAY) walk.metSet = new Set(walk.met)
  return false
}

/** `list`: v is one of walk.argLists' items (see jsonExact). */
function exact(v: unknown, walk: Walk, list: boolean): boolean {
  switch (typeof v) {
    case 'string':
      walk.leaves++
      return v.length <= MAX_STRING
    case 'number':
      if (!Number.isInteger(v)) {
        // a fractional number, or NaN and ±Infinity (JSON writes null): once in a while, see whether fractions dominate
        if (!Number.isFinite(v) || ((++walk.fractional & 1023) === 0 && tooFractional(walk))) return false
      } else if (v === 0 && 1 / v < 0) return false // -0
      walk.leaves++
      return true
    case 'boolean':
      walk.leaves++
      return true
    case 'object':
      break
    default:
      return false // undefined, bigint, symbol, function: JSON drops, throws or changes them
  }
  walk.leaves++
  if (v === null) return true
  // an argument list is made by the executor for one element: neither a Proxy nor met twice (and
  // were a plugin's lists shared, each job would still get a copy of its own arguments)
  if (!list && (types.isProxy(v) || metBefore(v, walk))) return false
  const proto = Object.getPrototypeOf(v)
  if (proto === Array.prototype && Array.isArray(v)) {
    const n = v.length
    const lists = v === walk.argLists
    // properties beside the items (holes are caught below)
    if (!list && !lists && v !== walk.fnIndex && Object.keys(v).length !== n) return false
    for (let i = 0; i < n; i++) if (!(i in v) || !exact(v[i], walk, lists)) return false
    return true
  }
  if (list) return false
  if (proto !== Object.prototype || 'toJSON' in v) return false
  const keys = Object.keys(v)
  for (let i = 0; i < keys.length; i++) {
    if (keys[i].length > MAX_STRING || !exact((v as Record<string, unknown>)[keys[i]], walk, false)) return false
  }
  return true
}

/** The record as JSON bytes, or undefined when JSON would not carry it exactly or fast (see jsonExact). */
export function encodeJsonRecord(record: object, own?: OwnArrays): Buffer | undefined {
  return jsonExact(record, own) ? Buffer.from(JSON.stringify(record)) : undefined
}

/** Whether these bytes are a JSON record (else v8's). */
export function isJsonRecord(bytes: Uint8Array): boolean {
  return bytes[0] === JSON_START
}

/** A JSON record's value (JSON.stringify's output is well-formed: UTF-8 carries it as it was). */
export function decodeJsonRecord(bytes: Uint8Array): unknown {
  const text = Buffer.isBuffer(bytes) ? bytes.toString() : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString()
  return JSON.parse(text)
}
