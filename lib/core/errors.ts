// Error classes carry what a user needs to act: the job id, the log paths, the remote stack.

/** A value given to submit cannot be sent to a worker unchanged. Thrown at submit time. */
export class UnserializableValueError extends TypeError {
  override name = 'UnserializableValueError'
  constructor(
    message: string,
    readonly where: string,
  ) {
    super(message)
  }
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

/**
 * Throws a ParameterError for the names not in `valid`: every one of them in one error, each with its
 * closest match, then the valid names (fixing one typo at a time is tedious).
 */
export function checkParameterNames(given: object, valid: readonly string[], what: string): void {
  const unknown = Object.keys(given).filter((name) => !valid.includes(name))
  if (unknown.length === 0) return
  const each = unknown.map((name) => {
    const close = closestName(name, valid)
    return `"${name}"${close ? ` (did you mean "${close}"?)` : ''}`
  })
  throw new ParameterError(
    `unknown ${what} parameter${unknown.length > 1 ? 's' : ''} ${each.join(', ')}; ` + `valid ones: ${[...new Set(valid)].sort().join(', ')}`,
  )
}

/** A backend definition is refused (a clashing or malformed name, a missing part), or none is known by a name. */
export class BackendError extends Error {
  override name = 'BackendError'
}

/**
 * A job ended without writing its result: it was killed, timed out, or lost before its worker could
 * write one (submitit's UncompletedJobError). Made by the client, so it has no remote stack.
 */
export class UncompletedJobError extends Error {
  override name = 'UncompletedJobError'
}

/** A submission larger than the executor's maxSubmissionSizeGb; nothing was written or submitted. */
export class SubmissionTooLargeError extends ParameterError {
  override name = 'SubmissionTooLargeError'
  constructor(
    readonly bytes: number,
    readonly limitGb: number,
    jobs: number,
  ) {
    super(
      `the submission of ${jobs} job${jobs === 1 ? '' : 's'} takes ${formatBytes(bytes)} encoded, over maxSubmissionSizeGb ` +
        `(${limitGb} GB): every job's arguments are written to the job folder and read back by each worker, which is ` +
        'slow and loads a shared file system. Pass large data by path (a file the task reads), or raise ' +
        'maxSubmissionSizeGb (updateParameters({ maxSubmissionSizeGb: 4 }); Infinity for no limit)',
    )
  }
}

function formatBytes(n: number): string {
  return n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(2)} GB` : n >= 1024 ** 2 ? `${(n / 1024 ** 2).toFixed(1)} MB` : `${n} bytes`
}

/**
 * The "did you mean" of every parameter and name check (the only one in the library): the candidate
 * nearest to `name` by edit distance, ignoring case, '_' and '-' (submitit's 'timeout_min' finds
 * 'timeoutMin'); undefined when none is close (at most 2 edits, or a third of the name's length).
 * A name whose first word is a prefix ('slurm_partition') also finds the name without it ('partition').
 */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '')
  const wanted = norm(name)
  let best: string | undefined
  let bestD = Infinity
  for (const c of candidates) {
    const d = editDistance(wanted, norm(c))
    if (d < bestD) {
      best = c
      bestD = d
    }
  }
  if (bestD <= Math.max(2, wanted.length / 3)) return best
  // a name prefixed for a cluster given to that cluster's own executor ('slurm_partition',
  // 'slurmPartition' to a SlurmExecutor: its 'partition'), or for another one: the name without it
  const unprefixed = /^[a-z]+(?:[_-]|(?=[A-Z]))(.+)$/.exec(name)?.[1]
  if (unprefixed === undefined) return undefined
  for (const c of candidates) if (norm(c) === norm(unprefixed)) return c
  return undefined
}

/** Levenshtein distance, one row at a time. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0]
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const up = row[j]
      row[j] = Math.min(up + 1, row[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1))
      diag = up
    }
  }
  return row[b.length]
}
