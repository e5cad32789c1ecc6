// Nothing a command started is left running. runCommand's command is started, in a process group of
// its own, by a tiny runner process holding the read end of a pipe from us (see runInGroup): however
// the job ends, the pipe closes — the command's normal end (we close it), its thread terminated for a
// timeout or cancel (the thread's handles are closed, its `exit` handlers do not run), the submitting
// process exiting, killed by a signal or by kill -9 (the kernel closes its files) — and the runner
// sends SIGTERM to the whole group, then SIGKILL after a grace, and exits. Since the runner starts the
// command, there is no instant in which the command runs unguarded.
//
// The runner is detached too: a Ctrl-C at the terminal reaches neither it nor the command, only the
// submitter, whose death then ends both. Commands that leave their group (setsid, or a daemon's
// double fork into a new session) escape it, as they would escape Slurm's signals.
import { spawn, type ChildProcess } from 'node:child_process'
import { JobEnvironment } from '../core/environment.js'

/** SIGTERM first; what is still there this long after gets SIGKILL. */
export const KILL_GRACE_MS = 2000

/** Sends `signal` to every process of group `pgid`; false when there is none left. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

// Run with `node -e` (no file to find, whether this module runs from dist/ or from .ts through tsx).
// It runs one command, in a process group of its own, and ends that group when its stdin (a pipe from
// the job) ends: the command is started by it, so there is no instant in which the command runs
// unguarded. It reads the command as one JSON line first (no line before the end: nothing is run),
// reports the group on fd 3, then how the command ended; and once the command has ended, ends the
// group too (a background child must not outlive the job, nor hold its output).
const RUNNER = `
const { spawn } = require('node:child_process')
const { writeSync } = require('node:fs')
const grace = Number(process.argv[1])
let pg = 0, ending = false, started = false, line = ''
const report = (m) => { try { writeSync(3, JSON.stringify(m) + '\\n') } catch {} }
const signal = (s) => { if (!pg) return false; try { process.kill(-pg, s); return true } catch (e) { return e.code === 'EPERM' } }
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
process.stdin.on('data', (d) => {
  if (started || ending) return
  line += d
  const nl = line.indexOf('\\n')
  if (nl < 0) return
  started = true
  const { command, cwd, env } = JSON.parse(line.slice(0, nl))
  let child
  try {
    child = spawn(command[0], command.slice(1), { cwd, env, stdio: ['ignore', 'inherit', 'inherit'], detached: true })
  } catch (e) {
    report({ error: e.message })
    return end()
  }
  pg = child.pid || 0
  if (pg) report({ pgid: pg })
  child.on('error', (e) => { report({ error: e.message }); end() })
  child.on('exit', (code, sig) => { report({ exitCode: code, signal: sig }); end() })
}).on('end', end).on('error', end)
`

/** How a command run by runInGroup ended, and what it printed. */
export interface GroupRun {
  exitCode?: number | null
  signal?: string | null
  /** it could not be started (ENOENT...) */
  error?: string
  stdout: string
  stderr: string
}

/**
 * Runs `command` (argv) in a process group of its own, started by a small runner process that holds a
 * pipe from this thread: whenever this thread or process goes (the job stopped, the submitter killed,
 * even by kill -9), the pipe closes and the runner ends the whole group (SIGTERM, then SIGKILL after
 * `graceMs`); when the command ends by itself, its group goes too. Resolves once the runner is gone.
 */
export function runInGroup(
  command: string[],
  options: { cwd?: string; env: NodeJS.ProcessEnv; onStdout?: (d: Buffer) => void; onStderr?: (d: Buffer) => void; graceMs?: number },
): Promise<GroupRun> {
  return new Promise((resolve) => {
    const out: Buffer[] = []
    const err: Buffer[] = []
    let outcome: Omit<GroupRun, 'stdout' | 'stderr'> | undefined
    let pgid = 0
    let runner: ChildProcess
    try {
      runner = spawn(process.execPath, ['-e', RUNNER, String(options.graceMs ?? KILL_GRACE_MS)], {
        // its own group: a Ctrl-C at the terminal reaches only the submitter, whose end then ends it
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
        // no NODE_OPTIONS (a test runner's loaders): a bare node starts fastest; the command gets its own env
        env: {},
      })
    } catch (e) {
      resolve({ error: (e as Error).message, stdout: '', stderr: '' })
      return
    }
    runner.stdin!.on('error', () => {}) // EPIPE once it is gone
    // kept open while the command runs: its end tells the runner to end the group
    runner.stdin!.write(`${JSON.stringify({ command, cwd: options.cwd, env: options.env })}\n`)
    runner.stdout!.on('data', (d: Buffer) => {
      out.push(d)
      options.onStdout?.(d)
    })
    runner.stderr!.on('data', (d: Buffer) => {
      err.push(d)
      options.onStderr?.(d)
    })
    let reports = ''
    ;(runner.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => {
      reports += d
      for (let nl = reports.indexOf('\n'); nl >= 0; nl = reports.indexOf('\n')) {
        const m = JSON.parse(reports.slice(0, nl)) as { pgid?: number } & Omit<GroupRun, 'stdout' | 'stderr'>
        reports = reports.slice(nl + 1)
        if (m.pgid) {
          pgid = m.pgid
          announce({ pgid, jobId: JobEnvironment.maybe()?.jobId, open: true })
        } else outcome = m
      }
    })
    runner.on('error', (e) => {
      outcome ??= { error: e.message }
    })
    runner.on('close', () => {
      if (pgid) announce({ pgid, open: false })
      runner.stdin!.end()
      const stdout = Buffer.concat(out).toString('utf8')
      const stderr = Buffer.concat(err).toString('utf8')
      resolve({ ...(outcome ?? { error: 'its runner ended before the command did' }), stdout, stderr })
    })
  })
}

/**
 * Second line of defence, for a job on a pool thread: the groups its commands lead are announced on
 * a channel the LocalExecutor hears, and it kills those of a job whose thread it stopped, without
 * waiting for the runner to see its pipe close.
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
