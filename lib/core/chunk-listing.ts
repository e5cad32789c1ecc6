// Finding the chunk result file (<A>_<i>-<k>_<t>_result.v8) that holds one job's outcome, for jobs
// read from disk (re-attached, the CLI). Listing the array folder and scanning every name per job
// made n jobs cost O(n × files); here a folder is listed once, its chunk names indexed by array and
// task and searched by bisection.
//
// A listing serves every lookup that finds its chunk in it. A chunk not in it may have been written
// since: the folder is listed again, but at most once per turn of the event loop, so that a poll over
// 10,000 unfinished jobs lists each folder once, not 10,000 times. forgetListing() drops a listing
// when a caller must know for sure (e.g. the process that would write the file is gone).
import fs from 'node:fs'
import path from 'node:path'
import { currentTurn } from './cache.js'
import { EXT } from './paths.js'

interface Range {
  first: number
  last: number
  name: string
}

interface Listing {
  names: string[]
  /** sorted ranges of chunk files, by `${arrayId}\0${task}`, built when first asked for */
  ranges: Map<string, Range[]>
  /** the turn of the event loop it was listed in: a miss during that turn does not list again */
  turn: number
  /** when it was listed, on the clock of mark() */
  at: number
}

const MAX_FOLDERS = 64
const listings = new Map<string, Listing>()
let clock = 0

/** A point in time: forgetListing(folder, mark) drops only the listings made before it. */
export function mark(): number {
  return ++clock
}

function list(folder: string): Listing | undefined {
  let names: string[]
  try {
    names = fs.readdirSync(folder)
  } catch {
    listings.delete(folder)
    return undefined
  }
  const listing: Listing = { names, ranges: new Map(), turn: currentTurn(), at: ++clock }
  listings.delete(folder) // re-inserted last: the oldest folder is dropped first
  if (listings.size >= MAX_FOLDERS) listings.delete(listings.keys().next().value!)
  listings.set(folder, listing)
  return listing
}

function rangesOf(listing: Listing, arrayId: string, task: number): Range[] {
  const key = `${arrayId}\0${task}`
  let ranges = listing.ranges.get(key)
  if (!ranges) {
    ranges = []
    const prefix = `${arrayId}_`
    const suffix = `_${task}_result.${EXT}`
    for (const name of listing.names) {
      if (!name.startsWith(prefix) || !name.endsWith(suffix)) continue
      const m = /^(\d+)-(\d+)$/.exec(name.slice(prefix.length, name.length - suffix.length))
      if (m) ranges.push({ first: Number(m[1]), last: Number(m[2]), name })
    }
    ranges.sort((a, b) => a.first - b.first)
    listing.ranges.set(key, ranges)
  }
  return ranges
}

function search(ranges: Range[], index: number): Range | undefined {
  let lo = 0
  let hi = ranges.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const r = ranges[mid]
    if (index < r.first) hi = mid - 1
    else if (index > r.last) lo = mid + 1
    else return r
  }
  return undefined
}

/** The path of the chunk file in `folder` holding element `index`, task `task`, of array `arrayId`. */
export function findChunkFile(folder: string, arrayId: string, index: number, task: number): string | undefined {
  let listing = listings.get(folder)
  let found = listing && search(rangesOf(listing, arrayId, task), index)
  if (!found && listing?.turn !== currentTurn()) {
    listing = list(folder)
    found = listing && search(rangesOf(listing, arrayId, task), index)
  }
  return found && path.join(folder, found.name)
}

/** The next lookup in `folder` lists it again, if its listing was made before `before` (a mark()). */
export function forgetListing(folder: string, before = Infinity): void {
  if ((listings.get(folder)?.at ?? Infinity) < before) listings.delete(folder)
}
