// Nothing a command started is left running. runCommand starts the command in its own process group
// (detached) and beside it a tiny watchdog process holding the read end of a pipe from us. However
// the job ends, the pipe closes: the command's normal end (we close it), its thread terminated for a
// timeout or cancel (the thread's handles are closed, its `exit` handlers do not run), the submitting
// process exiting, killed by a signal or by kill -9 (the kernel closes its files). On the pipe's end
// the watchdog sends SIGTERM to the whole group, then SIGKILL after a grace, and exits.
//
// The watchdog is detached too: a Ctrl-C at the terminal reaches neither it nor the command, only
// the submitter, whose death then ends both. Commands that leave their group (setsid, or a daemon's
// double fork into a new session) escape it, as they would escape Slurm's signals.
import { spawn, type ChildProcess } from 'node:child_process'
import { JobEnvironment } from '../core/environment.js'

/** SIGTERM first; what is still there this long after gets SIGKILL. */
export const KILL_GRACE_MS = 2000

// Run with `node -e`: no file to find, whether this module runs from dist/ or from .ts through tsx.
// It also ends the group when it is itself told to go (SIGTERM from Slurm, a SIGHUP).
const WATCHDOG = `
const pg = Number(process.argv[1]), grace = Number(process.argv[2])
const signal = (s) => { try { process.kill(-pg, s); return true } catch (e) { return e.code === 'EPERM' } }
let ending = false
const end = () => {
  if (ending) return
  ending = true
  if (!signal('SIGTERM')) process.exit(0)
  const t0 = Date.now()
  const check = () => {
    if (!signal(0)) process.exit(0)
    if (Date.now() - t0 >= grace) { signal('SIGKILL'); process.exit(0) }
    setTimeout(check, 25)
  }
  setTimeout(check, 25)
}
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, end)
process.stdin.on('data', () => {}).on('end', end).on('error', end)
`

export interface GroupGuard {
  /** The command has ended: SIGTERM its group now (a background child must not outlive the job); the watchdog follows with SIGKILL. */
  release(): void
}

/** Sends `signal` to every process of group `pgid`; false when there is none left. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Guards the process group `pgid` (a child spawned with `detached: true` leads its own group) until
 * release(), or until this thread or process goes, whichever comes first.
 */
export function guardGroup(pgid: number, graceMs = KILL_GRACE_MS): GroupGuard {
  announce({ pgid, jobId: JobEnvironment.maybe()?.jobId, open: true })
  let watchdog: ChildProcess | undefined
  try {
    watchdog = spawn(process.execPath, ['-e', WATCHDOG, String(pgid), String(graceMs)], {
      // no NODE_OPTIONS (a test runner's loaders): a bare node starts fastest
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
      env: {},
    })
    watchdog.on('error', () => {}) // could not start: release() still ends the group from here
    watchdog.stdin?.on('error', () => {}) // EPIPE if it is gone already
    // neither it nor its pipe keeps this thread alive
    watchdog.unref()
    ;(watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.()
  } catch {
    watchdog = undefined
  }
  let released = false
  return {
    release() {
      if (released) return
      released = true
      announce({ pgid, open: false })
      if (signalGroup(pgid, 'SIGTERM') && !watchdog?.pid) {
        // no watchdog to follow up: SIGKILL from here, without keeping the thread alive for it
        setTimeout(() => signalGroup(pgid, 'SIGKILL'), graceMs).unref()
      }
      watchdog?.stdin?.end()
    },
  }
}

/**
 * Second line of defence, for a job on a pool thread: the groups its commands lead are announced on
 * a channel the LocalExecutor hears, and it kills those of a job whose thread it stopped (a thread
 * can be stopped before its watchdog process has even started).
 */
export const GROUPS_CHANNEL = 'submitit-ts:process-groups'
export interface GroupAnnouncement {
  pgid: number
  jobId?: string
  open: boolean
}
let channel: BroadcastChannel | undefined
function announce(message: GroupAnnouncement): void {
  if (!channel) {
    channel = new BroadcastChannel(GROUPS_CHANNEL)
    ;(channel as unknown as { unref?: () => void }).unref?.() // never keeps the thread alive
  }
  channel.postMessage(message)
}

/** Kills (SIGTERM, then SIGKILL after the grace) the groups announced for jobs that `stopped` names. */
export class GroupKiller {
  private readonly open = new Map<number, string | undefined>()
  private readonly channel = new BroadcastChannel(GROUPS_CHANNEL)

  constructor() {
    ;(this.channel as unknown as { unref?: () => void }).unref?.()
    this.channel.onmessage = (event) => {
      const { pgid, jobId, open } = (event as MessageEvent<GroupAnnouncement>).data
      if (open) this.open.set(pgid, jobId)
      else this.open.delete(pgid)
    }
  }

  /**
   * The job's thread was stopped: its commands go too — now, and again a little later, for the
   * announcements the thread posted just before it stopped that have not arrived yet.
   */
  killJobs(stopped: (jobId: string) => boolean): void {
    this.kill(stopped)
    for (const ms of [100, 1000]) setTimeout(() => this.kill(stopped), ms).unref()
  }

  private kill(stopped: (jobId: string) => boolean): void {
    for (const [pgid, jobId] of this.open) {
      if (jobId === undefined || !stopped(jobId)) continue
      this.open.delete(pgid)
      if (signalGroup(pgid, 'SIGTERM')) setTimeout(() => signalGroup(pgid, 'SIGKILL'), KILL_GRACE_MS).unref()
    }
  }

  close(): void {
    this.channel.close()
  }
}
