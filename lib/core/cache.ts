// A small bounded cache: the first `max` keys, the oldest dropped first. Used where a file or a
// parse is asked for again and again (chunk result files, submissions in a pool thread or of
// re-attached jobs).
export function cachedGet<K, V>(cache: Map<K, V>, key: K, max: number, make: (key: K) => V): V {
  let value = cache.get(key)
  if (value === undefined) {
    value = make(key)
    if (cache.size >= max) cache.delete(cache.keys().next().value!)
    cache.set(key, value)
  }
  return value
}

let turn = 0
let ticking = false

/**
 * A number that stays the same during one turn of the event loop (one synchronous run of code, e.g.
 * a poll over every job) and changes after it: what was checked on disk during this turn need not
 * be checked again for each job.
 */
export function currentTurn(): number {
  if (!ticking) {
    ticking = true
    // unref: this alone does not keep the process alive
    setImmediate(() => {
      turn++
      ticking = false
    }).unref()
  }
  return turn
}
