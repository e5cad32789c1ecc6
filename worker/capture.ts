// Per-task stdout/stderr: while a task runs, what it prints goes to its own _log.out/_log.err.
// A log file is created only when the task prints, so a silent task costs no file. The streams are
// patched once per thread; a task only swaps the current sink, which keeps the hot path cheap.
import fs from 'node:fs'
import path from 'node:path'

/**
 * 'files': logs only (pool threads); 'tee': logs and the console (debug); 'none': leave as is;
 * 'fds': straight to the process's stdout and stderr, synchronously (a task's thread on a node, whose
 * streams the batch script points at its logs: nothing is left in a buffer when the job is requeued).
 */
export type CaptureMode = 'files' | 'tee' | 'none' | 'fds'

/**
 * A log file opened on the first write. One that cannot be written (a full disk, a read-only folder)
 * loses what the task prints, said once on the process's own stderr: the task goes on, and neither
 * its outcome nor the job's error report (its stack goes to the log too) is replaced by the I/O error.
 */
class LazyFile {
  private fd: number | null = null
  private failed = false
  constructor(private readonly file: () => string) {}
  write(chunk: string | Uint8Array): void {
    if (this.failed) return
    try {
      if (this.fd === null) {
        const file = this.file()
        fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
        this.fd = fs.openSync(file, 'a', 0o600)
      }
      if (typeof chunk === 'string') fs.writeSync(this.fd, chunk)
      else fs.writeSync(this.fd, chunk)
    } catch (e) {
      this.failed = true
      const note = `submitit-ts: cannot write the log ${this.file()} (${(e as Error).message}): what the task prints from now on is lost\n`
      try {
        originalStderr?.(note)
      } catch {
        /* nowhere to say it */
      }
    }
  }
  close(): void {
    try {
      if (this.fd !== null) fs.closeSync(this.fd)
    } catch {
      /* its writes failed already */
    }
    this.fd = null
  }
}

/** process.stderr's own write, before the patch (to say that a log cannot be written). */
let originalStderr: ((s: string) => void) | undefined

interface Sink {
  out: LazyFile
  err: LazyFile
  tee: boolean
}
let sink: Sink | null = null
let patched = false

function patch(stream: NodeJS.WriteStream, pick: (s: Sink) => LazyFile): void {
  const original = stream.write
  if (stream === process.stderr) originalStderr = (s) => original.call(stream, s)
  stream.write = function (this: NodeJS.WriteStream, chunk: string | Uint8Array, ...rest: unknown[]): boolean {
    const s = sink
    if (s === null || s.tee) {
      if (s) pick(s).write(typeof chunk === 'string' ? chunk : Buffer.from(chunk))
      return (original as (...a: unknown[]) => boolean).call(stream, chunk, ...rest)
    }
    pick(s).write(typeof chunk === 'string' ? chunk : Buffer.from(chunk))
    const cb = rest.find((x) => typeof x === 'function') as (() => void) | undefined
    cb?.()
    return true
  } as typeof stream.write
}

const noop = (): void => {}

/**
 * Starts capturing into the files the thunks name (called on first write); returns the stop function.
 * With `stderrToStdout`, stderr goes to the stdout file too (the executors' stderrToStdout parameter).
 */
export function captureOutput(mode: CaptureMode, stdoutFile: () => string, stderrFile: () => string, stderrToStdout = false): () => void {
  if (mode === 'none') return noop
  if (mode === 'fds') {
    writeToFds()
    return noop
  }
  if (!patched) {
    patch(process.stdout, (s) => s.out)
    patch(process.stderr, (s) => s.err)
    patched = true
  }
  const out = new LazyFile(stdoutFile)
  const mine: Sink = { out, err: stderrToStdout ? out : new LazyFile(stderrFile), tee: mode === 'tee' }
  sink = mine
  return () => {
    if (sink === mine) sink = null
    mine.out.close()
    mine.err.close()
  }
}

let toFds = false

/** Every write of this thread to process.stdout/stderr goes to fd 1/2 at once (see 'fds'). */
function writeToFds(): void {
  if (toFds) return
  toFds = true
  for (const [stream, fd] of [
    [process.stdout, 1],
    [process.stderr, 2],
  ] as const) {
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      writeAllSync(fd, typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
      const cb = rest.find((x) => typeof x === 'function') as (() => void) | undefined
      cb?.()
      return true
    }) as typeof stream.write
  }
}

/** fs.writeSync may write part of it, or meet EAGAIN on a non-blocking pipe: write it all. */
function writeAllSync(fd: number, bytes: Uint8Array): void {
  let done = 0
  while (done < bytes.length) {
    try {
      done += fs.writeSync(fd, bytes, done)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return // the log is gone: the task goes on
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1)
    }
  }
}
