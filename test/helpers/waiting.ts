// Waiting in tests: for a condition (never for a fixed time: the machines are loaded), or for a rejection.

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Polls `cond` every `everyMs` until it is true; fails after `timeoutMs`, naming `what`. */
export async function until(cond: () => boolean, timeoutMs = 30_000, what = 'condition', everyMs = 20): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`not seen within ${timeoutMs / 1000} s: ${what}`)
    await sleep(everyMs)
  }
}

/** The rejection of a promise (fails if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p
  } catch (e) {
    return e as Error
  }
  throw new Error('expected a rejection, got a value')
}
