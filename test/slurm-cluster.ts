// Whether a real Slurm cluster answers here. Tests against it skip on a laptop without one, and
// fail in CI (CI=true), where .ci/run starts it: they must never skip silently there.
//
// It also coordinates the test files that use the cluster (tap runs two files at once): each one
// holds a shared lock while it runs (taken by needsCluster), and a test that re-creates the cluster
// (slurm-integration-reuse.test.ts) takes the exclusive lock, which waits until no other test file
// holds the shared one, and makes new ones wait until it is done. Locks are files named after the
// pid of their holder, so a killed test process leaves no lock behind.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export function clusterSkipReason(): string | false {
  try {
    const out = execFileSync('sinfo', ['-h', '-o', '%T'], { encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe'] })
    if (/idle|mixed|allocated|completing/.test(out)) return false
    return `the Slurm node is not usable (sinfo: ${out.trim() || 'no nodes'})`
  } catch (e) {
    return `no Slurm cluster answers here (${(e as Error).message.split('\n')[0]}); start one with \`npm run slurm:start\``
  }
}

/** Options for a tap test that needs the cluster. Takes the shared lock for this test file. */
export function needsCluster(t: { fail: (msg: string) => void }): { skip?: string } {
  acquireShared()
  const reason = clusterSkipReason()
  if (!reason) return {}
  if (process.env.CI === 'true' || process.env.CI === '1') {
    t.fail(`CI=true but ${reason}: the Slurm integration tests must run in CI (.ci/run starts the cluster)`)
    return { skip: 'failed above' }
  }
  return { skip: reason }
}

const LOCKS = path.join(os.tmpdir(), 'submitit-ts-slurm-test-locks')
const EXCLUSIVE = path.join(LOCKS, 'exclusive')
const sharedFile = (pid: number) => path.join(LOCKS, `shared-${pid}`)

function alive(pid: number): boolean {
  if (pid === process.pid) return true
  try {
    return !/^State:\s*Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  } catch {
    return false
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

/** The pid holding the exclusive lock, if a live process does. */
function exclusiveHolder(): number | undefined {
  let pid: number
  try {
    pid = Number(fs.readFileSync(path.join(EXCLUSIVE, 'pid'), 'utf8'))
  } catch {
    return fs.existsSync(EXCLUSIVE) ? -1 : undefined // being taken: its pid file comes next
  }
  if (alive(pid)) return pid
  fs.rmSync(EXCLUSIVE, { recursive: true, force: true }) // its holder died
  return undefined
}

let shared = false

/**
 * The shared lock: marker first, then check for an exclusive holder (which, symmetrically, takes
 * its lock first and then waits for markers), so that the two never both go ahead.
 */
function acquireShared(): void {
  if (shared) return
  fs.mkdirSync(LOCKS, { recursive: true, mode: 0o777 })
  const mine = sharedFile(process.pid)
  const started = Date.now()
  for (;;) {
    fs.writeFileSync(mine, '')
    const holder = exclusiveHolder()
    if (holder === undefined || holder === process.pid) break
    fs.rmSync(mine, { force: true })
    if (holder === -1 && Date.now() - started > 60_000) fs.rmSync(EXCLUSIVE, { recursive: true, force: true }) // a half-taken lock
    sleepSync(500)
  }
  shared = true
  process.once('exit', () => fs.rmSync(mine, { force: true }))
}

/**
 * Takes the exclusive lock: waits until no other test file holds the shared one (bounded by
 * timeoutMs, then throws). Returns the release function.
 */
export async function acquireExclusive(timeoutMs: number): Promise<() => void> {
  fs.mkdirSync(LOCKS, { recursive: true, mode: 0o777 })
  const end = Date.now() + timeoutMs
  // give up our own shared lock while waiting: two exclusive waiters must not wait for each other
  fs.rmSync(sharedFile(process.pid), { force: true })
  for (;;) {
    try {
      fs.mkdirSync(EXCLUSIVE)
      fs.writeFileSync(path.join(EXCLUSIVE, 'pid'), String(process.pid))
      break
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      exclusiveHolder() // clears it if its holder died
    }
    if (Date.now() > end) throw new Error(`another test holds ${EXCLUSIVE}`)
    await new Promise((r) => setTimeout(r, 500))
  }
  const release = () => {
    fs.rmSync(EXCLUSIVE, { recursive: true, force: true })
    if (shared) fs.writeFileSync(sharedFile(process.pid), '')
  }
  for (;;) {
    const others = fs
      .readdirSync(LOCKS)
      .filter((n) => n.startsWith('shared-'))
      .map((n) => Number(n.slice('shared-'.length)))
      .filter((pid) => {
        if (pid === process.pid) return false
        if (alive(pid)) return true
        fs.rmSync(sharedFile(pid), { force: true }) // left by a test process that is gone
        return false
      })
    if (others.length === 0) return release
    if (Date.now() > end) {
      release()
      throw new Error(`test processes ${others.join(', ')} still use the cluster after ${timeoutMs / 1000} s`)
    }
    await new Promise((r) => setTimeout(r, 500))
  }
}
