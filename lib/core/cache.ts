// A small bounded cache: the first `max` keys, the oldest dropped first. Used where a file or a
// parse is asked for again and again (chunk result files, submissions in a pool thread).
export function cachedGet<K, V>(cache: Map<K, V>, key: K, max: number, make: (key: K) => V): V {
  let value = cache.get(key)
  if (value === undefined) {
    value = make(key)
    if (cache.size >= max) cache.delete(cache.keys().next().value!)
    cache.set(key, value)
  }
  return value
}
