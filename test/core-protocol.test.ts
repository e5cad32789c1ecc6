// The memory a chunk's thread shares with the LocalExecutor: outcomes kept in the arena survive the
// thread, and partial files (segments) are found from it.
import t from 'tap'
import { chunkMemory, flushedSegments, markFlushed, storedOutcomes, storeOutcome } from '../dist/lib/core/protocol.js'

t.test('every kind of value comes back from the arena as it was stored', async (t) => {
  const values = [undefined, null, true, false, 0, -0, NaN, 1.5, 'héllo ✓', '', 10n, { a: [1, 'x'] }, new Map([[1, 2]])]
  t.equal(chunkMemory(1).arena.length, 0, 'a chunk of one needs no arena')
  const m = chunkMemory(values.length)
  values.forEach((v, k) => t.ok(storeOutcome(m, values.length, k, { state: 'COMPLETED', value: v }, false)))
  const { first, outcomes } = storedOutcomes(m, values.length)
  t.equal(first, 0)
  t.same(
    outcomes.map((o) => (o as { value: unknown }).value),
    values,
  )
  t.ok(Object.is((outcomes[5] as { value: unknown }).value, -0), '-0 stays -0')
})

t.test('a full arena says so; segments and what follows them are found again', async (t) => {
  const count = 10
  const m = chunkMemory(count)
  const big = 'x'.repeat(20_000)
  t.ok(storeOutcome(m, count, 0, { state: 'COMPLETED', value: big }, false))
  t.ok(storeOutcome(m, count, 1, { state: 'FAILED', error: { message: 'e' } }, true))
  t.notOk(storeOutcome(m, count, 2, { state: 'COMPLETED', value: 'y'.repeat(50_000) }, false), 'no room: the caller flushes')
  markFlushed(m, count, 0, 3) // elements 0..2 in a partial file
  t.ok(storeOutcome(m, count, 3, { state: 'COMPLETED', value: 3 }, false))
  t.ok(storeOutcome(m, count, 4, { state: 'COMPLETED', value: big }, false))
  markFlushed(m, count, 3, 5)
  t.ok(storeOutcome(m, count, 5, { state: 'CANCELLED', error: 'c' }, false))
  t.same(flushedSegments(m, count), [
    [0, 3],
    [3, 5],
  ])
  const after = storedOutcomes(m, count)
  t.equal(after.first, 5)
  t.same(after.outcomes, [{ state: 'CANCELLED', error: 'c' }])
})
