// Per-task stdout/stderr: while a task runs, what it prints goes to its own _log.out/_log.err.
// A log file is created only when the task prints, so a silent task costs no file.
import fs from 'node:fs'
import path from 'node:path'

/** 'files': logs only (pool threads); 'tee': logs and the console (debug); 'none': leave as is (CLI). */
export type CaptureMode = 'files' | 'tee' | 'none'

type Write = typeof process.stdout.write

class LazyFile {
  private fd: number | null = null
  constructor(private readonly file: string) {}
  write(chunk: string | Uint8Array): void {
    if (this.fd === null) {
      fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 })
      this.fd = fs.openSync(this.file, 'a', 0o600)
    }
    if (typeof chunk === 'string') fs.writeSync(this.fd, chunk)
    else fs.writeSync(this.fd, chunk)
  }
  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd)
    this.fd = null
  }
}

function redirect(stream: NodeJS.WriteStream, file: LazyFile, tee: boolean): () => void {
  const original = stream.write
  stream.write = function (this: NodeJS.WriteStream, chunk: string | Uint8Array, ...rest: unknown[]): boolean {
    file.write(typeof chunk === 'string' ? chunk : Buffer.from(chunk))
    if (tee) return (original as (...a: unknown[]) => boolean).call(stream, chunk, ...rest)
    const cb = rest.find((x) => typeof x === 'function') as (() => void) | undefined
    cb?.()
    return true
  } as Write
  return () => { stream.write = original }
}

/** Starts capturing; the returned function stops it and closes the files. */
export function captureOutput(mode: CaptureMode, stdoutFile: string, stderrFile: string): () => void {
  if (mode === 'none') return () => {}
  const out = new LazyFile(stdoutFile)
  const err = new LazyFile(stderrFile)
  const undoOut = redirect(process.stdout, out, mode === 'tee')
  const undoErr = redirect(process.stderr, err, mode === 'tee')
  return () => {
    undoErr()
    undoOut()
    out.close()
    err.close()
  }
}
