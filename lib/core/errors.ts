// Error classes carry what a user needs to act: the job id, the log paths, the remote stack.

/** A value given to submit cannot be sent to a worker unchanged. Thrown at submit time. */
export class UnserializableValueError extends TypeError {
  override name = 'UnserializableValueError'
  constructor(message: string, readonly where: string) {
    super(message)
  }
}

/** What a task's failure looked like on the worker, as stored in its result file. */
export interface RemoteErrorInfo {
  name: string
  message: string
  stack?: string
  code?: unknown
}

/**
 * A job ended without a value: the task threw, timed out, was cancelled or its worker died.
 * `remoteStack` is the stack from the worker; `error` the re-created remote error, if any.
 */
export class FailedJobError extends Error {
  override name = 'FailedJobError'
  constructor(
    message: string,
    readonly jobId: string,
    readonly state: string,
    readonly remoteStack: string | undefined,
    readonly logs: { stdout: string; stderr: string },
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** A parameter name is unknown, or its value is of the wrong kind. */
export class ParameterError extends TypeError {
  override name = 'ParameterError'
}

/** Throws a ParameterError for names not in `valid`, listing them all and the closest match. */
export function checkParameterNames(given: object, valid: readonly string[], what: string): void {
  for (const name of Object.keys(given)) {
    if (valid.includes(name)) continue
    const close = closest(name, valid)
    throw new ParameterError(
      `unknown ${what} parameter "${name}"${close ? ` (did you mean "${close}"?)` : ''}; valid ones: ${[...valid].sort().join(', ')}`)
  }
}

function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined
  let bestD = Infinity
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase())
    if (d < bestD) { best = c; bestD = d }
  }
  return bestD <= Math.max(2, name.length / 3) ? best : undefined
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    prev = cur
  }
  return prev[b.length]
}
