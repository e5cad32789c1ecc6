// Part 1: what serializing one task costs, through the library's own functions (the ones the executors
// and the worker call: encodeValue + encodeRecord for a submission, encodeOutcome + encodeRecord for a
// result, decodeSubmission / decodeResult + decodeValue to read them), next to JSON and structuredClone
// of the same payload and to bare v8.serialize/deserialize (the floor under the library).
//
// Each payload is measured in a fresh child process; every op runs in a timed loop (see timeLoop).
// "per task in an array" is one record of `arrayN` elements (a mapArray submission, a chunk's result)
// divided by arrayN: what a task costs inside mapArray.
import v8 from 'node:v8'
import * as format from '../lib/core/format.js'
import type { Outcome, ResultRecord, SubmissionRecord } from '../lib/core/format.js'
import { decodeValue, encodeValue } from '../lib/core/values.js'
import { benchChild, timeLoop } from './stats.js'

export type Payload = 'small' | 'typed1MB' | 'nested10MB'
export const PAYLOADS: Payload[] = ['small', 'typed1MB', 'nested10MB']

export interface SerializationSpec {
  part: 'serialization'
  payload: Payload
  /** bytes of JSON for the nested payload (10 MB; less in smoke runs) */
  nestedBytes: number
  /** elements of the array record for the per-task-in-an-array figures (small payload only) */
  arrayN: number
  /** time budget of one op's loop, ms */
  budgetMs: number
}

/** ms per op, by op name. */
export interface SerializationResult {
  spec: SerializationSpec
  /** bytes of the single-job submission and result records as written (JSON or v8: the names predate JSON records), and JSON bytes of the arguments */
  sizes: { submissionV8: number; resultV8: number; json: number }
  ms: Record<string, number>
}

/** The ops, in the order printed. */
export const OPS: { key: string; label: string }[] = [
  { key: 'subEncode', label: 'submission encode' },
  { key: 'subDecode', label: 'submission decode' },
  { key: 'resEncode', label: 'result encode' },
  { key: 'resDecode', label: 'result decode' },
  { key: 'total', label: 'library total (4 ops)' },
  { key: 'v8Ser', label: 'bare v8.serialize' },
  { key: 'v8Deser', label: 'bare v8.deserialize' },
  { key: 'jsonStringify', label: 'JSON.stringify' },
  { key: 'jsonParse', label: 'JSON.parse' },
  { key: 'structuredClone', label: 'structuredClone (round trip)' },
  { key: 'arraySubEncode', label: 'in an array: submission encode / task' },
  { key: 'arraySubDecode', label: 'in an array: submission decode / task' },
  { key: 'arrayResEncode', label: 'in an array: result encode / task' },
  { key: 'arrayResDecode', label: 'in an array: result decode / task' },
  { key: 'arrayTotal', label: 'in an array: total / task' },
]

/** Small args, as a hyper-parameter sweep would pass them. */
function smallArgs(i: number): unknown[] {
  return [0.001 * (i + 1), { epochs: 10, name: `run-${i}`, tags: ['a', 'b'] }]
}

/** A nested object of about `bytes` bytes of JSON: records of numbers, strings and sub-objects. */
export function nestedObject(bytes: number): unknown {
  const rows: unknown[] = []
  let size = 0
  let seed = 1
  const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647
  while (size < bytes) {
    const row = {
      id: rows.length,
      name: `layer-${rows.length}`,
      weights: Array.from({ length: 32 }, () => rnd()),
      meta: { shape: [32, 1], trainable: rows.length % 2 === 0, tags: ['dense', 'relu'], scale: rnd() },
    }
    size += JSON.stringify(row).length + 1
    rows.push(row)
  }
  return { model: 'bench', version: 3, layers: rows }
}

function payloadValue(spec: SerializationSpec): unknown[] {
  switch (spec.payload) {
    case 'small':
      return smallArgs(0)
    case 'typed1MB': {
      const a = new Float64Array(131072)
      for (let i = 0; i < a.length; i++) a[i] = i * 0.5
      return [a]
    }
    case 'nested10MB':
      return [nestedObject(spec.nestedBytes)]
  }
}

function makeResultRecord(first: number, outcomes: Outcome[], marked: boolean): ResultRecord {
  return format.resultRecord({ arrayId: 'bench', nonce: 'bench' }, first, 0, outcomes, marked)
}

function outcomeAt(record: ResultRecord, k: number): Outcome {
  return format.outcomeAt(record, k)!
}

function submissionRecord(args: unknown[][], marked: boolean): SubmissionRecord {
  return {
    format: 'submitit-ts/submission',
    version: format.FORMAT_VERSION,
    node: process.version,
    backend: 'local',
    arrayId: 'bench',
    isArray: args.length > 1,
    folder: '/tmp/bench/%j',
    nonce: 'bench',
    params: { tasksPerNode: 1, nodes: 1 },
    owner: { pid: process.pid, host: 'bench', at: Date.now(), heartbeatMs: 10_000 },
    fns: [{ module: 'file:///bench/tasks.js', exportName: 'trivial' }],
    fnIndex: args.map(() => 0),
    args,
    marked,
  }
}

/** What Executor.prepare + LocalExecutor.submitPrepared do to arguments: encode each, then the record. */
function encodeSubmission(argsList: unknown[][]): Buffer {
  let marked = false
  const out: unknown[][] = new Array(argsList.length)
  for (let i = 0; i < argsList.length; i++) {
    const a = argsList[i]
    let copy: unknown[] | null = null
    for (let j = 0; j < a.length; j++) {
      const enc = encodeValue(a[j], `argument ${j + 1} of trivial`)
      marked ||= enc.marked
      if (enc.value !== a[j]) (copy ??= a.slice())[j] = enc.value
    }
    out[i] = copy ?? a
  }
  return format.encodeRecord(submissionRecord(out, marked))
}

/** What the worker does: decode the submission, then each element's arguments. */
function decodeSubmission(bytes: Buffer): unknown {
  const sub = format.decodeSubmission(bytes, 'bench')
  if (!sub.marked) return sub.args
  return Promise.all(sub.args.map((a) => decodeValue(a)))
}

/** What the worker does with return values: encode each outcome, then the chunk's record. */
function encodeResult(values: unknown[]): Buffer {
  let marked = false
  const outcomes: Outcome[] = new Array(values.length)
  for (let k = 0; k < values.length; k++) {
    const enc = format.encodeOutcome({ state: 'COMPLETED', value: values[k] }, 'the result of job bench')
    marked ||= enc.marked
    outcomes[k] = enc.outcome
  }
  return format.encodeRecord(makeResultRecord(0, outcomes, marked))
}

/** What the executor and Job.result() do: decode the record, take each element's outcome. */
function decodeResult(bytes: Buffer, n: number): unknown {
  const record = format.decodeResult(bytes, 'bench')
  let last: unknown
  for (let k = 0; k < n; k++) {
    const o = outcomeAt(record, k)
    last = record.marked ? format.decodeOutcome(o, true) : o
  }
  return last
}

let sink: unknown
export function measureSerialization(spec: SerializationSpec): SerializationResult {
  const args = payloadValue(spec)
  // a task returns a small record for small args, and the big payload itself otherwise
  const value = spec.payload === 'small' ? { loss: 0.002, epochs: 10 } : args[0]
  const budget = spec.budgetMs
  const ms: Record<string, number> = {}
  const t = (key: string, fn: () => unknown) => {
    ms[key] = timeLoop(
      () => {
        sink = fn()
      },
      budget,
      1,
    )
  }

  const subBytes = encodeSubmission([args])
  const resBytes = encodeResult([value])
  t('subEncode', () => encodeSubmission([args]))
  t('subDecode', () => decodeSubmission(subBytes))
  t('resEncode', () => encodeResult([value]))
  t('resDecode', () => decodeResult(resBytes, 1))
  ms.total = ms.subEncode + ms.subDecode + ms.resEncode + ms.resDecode

  // the alternatives, on the task's arguments (what a submission carries)
  const v8Bytes = v8.serialize(args)
  t('v8Ser', () => v8.serialize(args))
  t('v8Deser', () => v8.deserialize(v8Bytes))
  const json = JSON.stringify(args)
  t('jsonStringify', () => JSON.stringify(args))
  t('jsonParse', () => JSON.parse(json))
  t('structuredClone', () => structuredClone(args))

  if (spec.payload === 'small' && spec.arrayN > 1) {
    const n = spec.arrayN
    const argsList = Array.from({ length: n }, (_, i) => smallArgs(i))
    const values = argsList.map((a) => ({ loss: (a[0] as number) * 2, epochs: 10 }))
    const sub = encodeSubmission(argsList)
    const res = encodeResult(values)
    t('arraySubEncode', () => encodeSubmission(argsList))
    t('arraySubDecode', () => decodeSubmission(sub))
    t('arrayResEncode', () => encodeResult(values))
    t('arrayResDecode', () => decodeResult(res, n))
    for (const k of ['arraySubEncode', 'arraySubDecode', 'arrayResEncode', 'arrayResDecode']) ms[k] /= n
    ms.arrayTotal = ms.arraySubEncode + ms.arraySubDecode + ms.arrayResEncode + ms.arrayResDecode
  }
  if (sink === Symbol.for('never')) console.log(sink)
  return { spec, sizes: { submissionV8: subBytes.length, resultV8: resBytes.length, json: json.length }, ms }
}

// As a child process: node dist/bench/serialization.js '<spec as JSON>' → one line "BENCH_RESULT {...}".
benchChild(import.meta.url, measureSerialization, false)
