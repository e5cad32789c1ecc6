// Small records as JSON. v8's serializer costs ~2 µs a call before any content and ~1 µs per field
// name and short string; a single job's four records (submission and result, each written and read)
// spent ~30 µs in v8. JSON.stringify/parse carry such a record in a third of that. JSON is used only
// where it gives back exactly what v8 would: everything else, and anything large, stays v8's.
import { types } from 'node:util'

/** Past this many objects, items and properties, or this many characters of strings, a record is v8's. */
const MAX_VISITS = 512
const MAX_CHARS = 16 << 10

/** The first byte of a JSON record ('{'); v8's output starts with its version tag, 0xFF. */
const JSON_START = 0x7b

/**
 * Whether JSON.parse(JSON.stringify(value)) is what v8 would give back: plain objects and dense
 * plain arrays (no Proxy, no toJSON, no property beside an array's items) of strings, finite numbers
 * other than -0, booleans and null, each object met once (JSON would copy a shared one and fail on
 * a cycle), and small.
 */
export function jsonExact(value: unknown): boolean {
  const walk: Walk = { met: [], visits: 0, chars: 0 }
  return exact(value, walk)
}

/** What jsonExact has seen so far (one object per call: no closures to make per record). */
interface Walk {
  met: object[]
  visits: number
  chars: number
}

function exact(v: unknown, walk: Walk): boolean {
  switch (typeof v) {
    case 'string':
      walk.chars += v.length
      return walk.chars <= MAX_CHARS
    case 'number':
      return Number.isFinite(v) && !Object.is(v, -0)
    case 'boolean':
      return true
    case 'object':
      break
    default:
      return false // undefined, bigint, symbol, function: JSON drops, throws or changes them
  }
  if (v === null) return true
  if (++walk.visits > MAX_VISITS || walk.met.includes(v) || types.isProxy(v)) return false
  walk.met.push(v)
  const proto = Object.getPrototypeOf(v)
  if (proto === Array.prototype && Array.isArray(v)) {
    const n = v.length
    if ((walk.visits += n) > MAX_VISITS || Object.keys(v).length !== n) return false // holes, or properties beside the items
    for (let i = 0; i < n; i++) if (!exact(v[i], walk)) return false
    return true
  }
  if (proto !== Object.prototype || 'toJSON' in v) return false
  const keys = Object.keys(v)
  if ((walk.visits += keys.length) > MAX_VISITS) return false
  for (let i = 0; i < keys.length; i++) {
    walk.chars += keys[i].length
    if (!exact((v as Record<string, unknown>)[keys[i]], walk)) return false
  }
  return true
}

/** The record as JSON bytes, or undefined when JSON would not carry it exactly (see jsonExact). */
export function encodeJsonRecord(record: object): Buffer | undefined {
  return jsonExact(record) ? Buffer.from(JSON.stringify(record)) : undefined
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
