// Who submitted a local (or debug) job, and whether that process still lives. A job is run by the
// process that submitted it; when that process is gone, a job without a result will never get one
// and must read FAILED, not RUNNING for ever. A pid alone is not an identity (pids are reused, and
// mean nothing in another PID namespace, container or host), so the owner record also holds the
// boot id, the PID namespace and the process's start time; where those cannot be compared (another
// host, another namespace), the owner's heartbeat tells: it touches the submission file of each
// array it still runs, and a file not touched for a while has a dead owner.
import fs from 'node:fs'
import os from 'node:os'

export interface Owner {
  pid: number
  host: string
  /** when it submitted (ms since the epoch) */
  at: number
  /** /proc/sys/kernel/random/boot_id: the same pid after a reboot is another process */
  bootId?: string
  /** the PID namespace (/proc/self/ns/pid): pids of another namespace cannot be looked up here */
  pidNs?: string
  /** the process's start time in clock ticks since boot (/proc/<pid>/stat): a reused pid has another */
  startTicks?: number
  /** how often it touches the submission files of arrays it still runs */
  heartbeatMs: number
}

/** How often an owner touches its arrays' submission files (SUBMITIT_HEARTBEAT_MS for tests). */
export function heartbeatMs(): number {
  const ms = Number(process.env.SUBMITIT_HEARTBEAT_MS)
  return Number.isFinite(ms) && ms > 0 ? ms : 10_000
}

function readOrUndefined(read: () => string): string | undefined {
  try {
    return read().trim()
  } catch {
    return undefined
  }
}

/** Field 22 of /proc/<pid>/stat (after the command name, which may hold spaces and parentheses). */
function startTicksOf(pid: number | 'self'): number | undefined {
  const stat = readOrUndefined(() => fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))
  if (!stat) return undefined
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(fields[19]) // field 3 is fields[0]
}

let self: Omit<Owner, 'at'> | undefined

/** This process, as an owner. */
export function currentOwner(): Owner {
  self ??= {
    pid: process.pid,
    host: os.hostname(),
    bootId: readOrUndefined(() => fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8')),
    pidNs: readOrUndefined(() => fs.readlinkSync('/proc/self/ns/pid')),
    startTicks: startTicksOf('self'),
    heartbeatMs: heartbeatMs(),
  }
  // a literal, not a spread: every submission makes one
  const s = self
  return { pid: s.pid, host: s.host, at: Date.now(), bootId: s.bootId, pidNs: s.pidNs, startTicks: s.startTicks, heartbeatMs: s.heartbeatMs }
}

/**
 * Whether the owner of a submission lives: 'alive', or why it is known dead. `submitted` is the
 * submission file, whose modification time is the owner's heartbeat.
 */
export function ownerDeath(owner: Owner, submitted: string): string | undefined {
  const me = currentOwner()
  const who = `its owner (pid ${owner.pid} on ${owner.host})`
  if (owner.pid === me.pid && owner.host === me.host && owner.startTicks === me.startTicks) return undefined
  const comparable = owner.host === me.host && owner.bootId !== undefined && owner.bootId === me.bootId && owner.pidNs === me.pidNs
  if (comparable) {
    const stat = readOrUndefined(() => fs.readFileSync(`/proc/${owner.pid}/status`, 'utf8'))
    if (stat === undefined) return `${who} has exited`
    if (/^State:\s*Z/m.test(stat)) return `${who} has exited (a zombie now)`
    if (owner.startTicks !== undefined && startTicksOf(owner.pid) !== owner.startTicks) return `${who} has exited (its pid is another process's now)`
    return undefined
  }
  // another host (a host name is not an identity either: another machine may have this one's, so
  // another boot id does not tell a restart), container or PID namespace: only the heartbeat can tell
  const otherBoot = owner.host === me.host && owner.bootId !== undefined && me.bootId !== undefined && owner.bootId !== me.bootId
  let mtime: number
  try {
    mtime = fs.statSync(submitted).mtimeMs
  } catch {
    return `its submission file ${submitted} is gone`
  }
  const grace = Math.max(3 * owner.heartbeatMs, owner.heartbeatMs + 5_000)
  const silent = Date.now() - mtime
  if (silent > grace) {
    const where = otherBoot ? ' (it ran before this machine restarted, or on another machine of this name)' : ''
    return `${who} has given no heartbeat for ${Math.round(silent / 1000)} s${where} (it touches ${submitted} every ${owner.heartbeatMs / 1000} s while it runs jobs)`
  }
  return undefined
}

/** Touches the submission files of the arrays this process still runs, so others see it lives. */
export class Heartbeat {
  private readonly files = new Set<string>()
  private timer: NodeJS.Timeout | null = null

  add(file: string): void {
    this.files.add(file)
    if (!this.timer) {
      this.timer = setInterval(() => this.beat(), heartbeatMs())
      this.timer.unref() // it never keeps the process alive
    }
  }

  /** The timer stays until a beat finds nothing to touch: jobs submitted one after another do not make one each. */
  delete(file: string): void {
    this.files.delete(file)
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  private beat(): void {
    if (this.files.size === 0) return this.stop()
    const now = new Date()
    for (const file of this.files) {
      try {
        fs.utimesSync(file, now, now)
      } catch {
        this.files.delete(file) // removed by its user: nobody can attach to it any more
      }
    }
  }
}

/**
 * What `<A>_running.json` holds: the elements of array A its owner runs, when it last looked. Jobs
 * of a local array without a result are queued in their owner's process, which alone knows which
 * of them run: this tells others (attachJob, the command line). Tied to the submission by its nonce.
 */
export interface RunningRecord {
  nonce: string
  at: number
  running: number[]
}

/** Writes (atomically) what an owner runs; best effort: a file that cannot be written is left as it was. */
export function writeRunning(file: string, nonce: string, running: number[]): void {
  const tmp = `${file}.tmp-${process.pid}`
  try {
    fs.writeFileSync(tmp, JSON.stringify({ nonce, at: Date.now(), running } satisfies RunningRecord), { mode: 0o600 })
    fs.renameSync(tmp, file)
  } catch {
    try {
      fs.unlinkSync(tmp)
    } catch {
      /* not made */
    }
  }
}

/** The elements the owner last said it runs; undefined when it has not said (yet), or the file is another submission's. */
export function readRunning(file: string, nonce: string): ReadonlySet<number> | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(file, 'utf8')) as RunningRecord
    return r.nonce === nonce && Array.isArray(r.running) ? new Set(r.running) : undefined
  } catch {
    return undefined
  }
}
