// One watcher per process for every unfinished Slurm job, so the scheduler sees
// ONE sacct call per poll however many jobs are waited on.
//
// Each tick: 1. ask the caller's isFinished(jobId) hooks (a result file exists:
// no scheduler call needed); 2. when the scheduler is due, one sacct for all the
// remaining jobs (array tasks collapsed to their array id). sacct trails squeue by
// up to 3.5 s and array tasks that never started exist only in its compact row
// ('158_[2-5%2]|PENDING'), which parseSacct expands. When sacct fails (accounting
// disabled, slurmdbd down) or has not shown a job for a while, or shows it with a
// blank state, squeue is asked; a job missing from both (or blank in sacct and
// missing from squeue) for goneGraceMs, with no result, is FAILED: no job stays
// UNKNOWN forever. Meanwhile it reads UNKNOWN (not PENDING), its reason saying why.

import { batchIds, sacct, scancel, squeue, type SlurmCommandOptions } from './commands.js'
import { isFinalState, isNeverRunnable, parseSacct, parseSqueue, type JobEntry, type JobState } from './parse.js'

export interface JobInfo {
  state: JobState
  exitCode?: number
  signal?: number
  /** Slurm's reason (why a pending job waits), or why the watcher decided (gone from the queue...). */
  reason?: string
  /**
   * Slurm keeps the job pending for a reason that means it never starts (isNeverRunnable): the
   * watcher stops waiting for it. `state` is CANCELLED when the watcher cancelled it (see
   * RegisterOptions.cancelIfNeverRuns), else what Slurm says (PENDING).
   */
  neverRuns?: boolean
  /** Where the state came from. */
  source: 'none' | 'result' | 'sacct' | 'squeue' | 'gone'
}

export type FinishedHook = (jobId: string) => boolean | Promise<boolean>
export type StateListener = (info: JobInfo, jobId: string) => void

export interface RegisterOptions {
  onState?: StateListener
  /** Overrides the watcher's isFinished for this job. */
  isFinished?: FinishedHook
  /** scancel the job when Slurm says it can never start (the jobs of this process's executors). */
  cancelIfNeverRuns?: boolean
}

export interface DelayOptions {
  minDelayMs: number
  maxDelayMs: number
  factor: number
}

export interface SlurmWatcherOptions extends Partial<DelayOptions> {
  commands?: SlurmCommandOptions
  /** Default hook: true when the job's result is in (then no scheduler call is made for it). */
  isFinished?: FinishedHook
  /** How often the isFinished hooks are asked between scheduler calls (default 1000 ms). */
  resultCheckMs?: number
  /** Not in sacct this long after registering → ask squeue (default 10 s; sacct lags up to 3.5 s). */
  sacctAbsentMs?: number
  /** In neither sacct nor squeue nor results this long → FAILED (default 30 s). */
  goneGraceMs?: number
}

export interface WatcherStats {
  /** Ticks that looked at the jobs. */
  polls: number
  /** Scheduler commands run (sacct + squeue, one per id batch). */
  schedulerCalls: number
  sacctCalls: number
  squeueCalls: number
}

/**
 * 0.25 s at first, ×1.5, at most 5 s: a job that ends (or is scancelled from outside) is seen within
 * ~5 s plus sacct's lag. One sacct call costs the scheduler ~10 ms of CPU (~0.15–0.25 s wall on a
 * loaded 2-core test machine, for 1 or 300 ids): at most 12 a minute per process, for all its jobs.
 */
export const DEFAULT_DELAYS: DelayOptions = { minDelayMs: 250, maxDelayMs: 5_000, factor: 1.5 }

/**
 * Delay before the next scheduler call, from how long the OLDEST unfinished job has
 * been watched. Polls whose delays grow ×factor from minDelayMs reach age a with a delay
 * of min + a·(factor − 1); computing it from the age (not from a counter) means a newly
 * registered job does not reset a slow rate to the fastest (submitit's problem).
 */
export function nextDelay(oldestAgeMs: number, options: Partial<DelayOptions> = {}): number {
  const { minDelayMs, maxDelayMs, factor } = { ...DEFAULT_DELAYS, ...options }
  const delay = minDelayMs + Math.max(0, oldestAgeMs) * (factor - 1)
  return Math.min(maxDelayMs, Math.max(minDelayMs, delay))
}

interface Watched {
  jobId: string
  baseId: string
  isArrayTask: boolean
  registeredAt: number
  info: JobInfo
  listeners: StateListener[]
  isFinished?: FinishedHook
  waiters: { resolve: (s: JobState) => void; reject: (e: Error) => void }[]
  /** First time it was missing from both sacct and squeue. */
  missingSince?: number
  cancelIfNeverRuns?: boolean
}

const ACCOUNTING_OFF = /accounting storage is disabled/i

export class SlurmWatcher {
  readonly stats: WatcherStats = { polls: 0, schedulerCalls: 0, sacctCalls: 0, squeueCalls: 0 }
  /** The last scheduler error (kept for diagnosis; polling goes on). */
  lastError: Error | undefined
  private readonly jobs = new Map<string, Watched>()
  /** the jobs not settled yet, in registration order: a poll visits only these (finished ones stay in jobs, for state()) */
  private readonly open = new Set<Watched>()
  /** the nonce of the job that holds an id that was reused in this process's lifetime (rare) */
  private readonly owners = new Map<string, string>()
  private readonly options: SlurmWatcherOptions
  private timer: NodeJS.Timeout | undefined
  private polling = false
  private nextSchedulerAt = 0
  /** What the last poll asked: with pending jobs, sacct and squeue take turns (see askScheduler). */
  private lastAsked: 'sacct' | 'squeue' = 'squeue'
  /** Set once sacct said accounting is off: from then on squeue only. */
  private sacctDisabled = false
  /**
   * The last call of each command failed (the controller or slurmdbd is down, or restarting): its
   * error, until a call succeeds again. What is known of a job is then from before: its reason says so.
   */
  private readonly down: { sacct?: string; squeue?: string } = {}

  constructor(options: SlurmWatcherOptions = {}) {
    this.options = { ...options } // a copy: pollAtLeastEvery changes it
  }

  /** Start watching a job ('12' or array task '12_3'). Registering again adds the listener only. */
  register(jobId: string, options: RegisterOptions | StateListener = {}): void {
    const opts = typeof options === 'function' ? { onState: options } : options
    let job = this.jobs.get(jobId)
    if (!job) {
      const m = /^(\d+)(?:_(\d+))?$/.exec(jobId)
      if (!m) throw new Error(`Not a Slurm job id: ${JSON.stringify(jobId)} (expected '12' or '12_3')`)
      job = {
        jobId,
        baseId: m[1]!,
        isArrayTask: m[2] !== undefined,
        registeredAt: Date.now(),
        info: { state: 'UNKNOWN', source: 'none' },
        listeners: [],
        waiters: [],
        ...(opts.isFinished ? { isFinished: opts.isFinished } : {}),
      }
      this.jobs.set(jobId, job)
      this.open.add(job)
    } else if (opts.isFinished) {
      job.isFinished = opts.isFinished
    }
    if (opts.cancelIfNeverRuns) job.cancelIfNeverRuns = true
    if (opts.onState) job.listeners.push(opts.onState)
    if (!settled(job.info)) this.ensureTimer()
  }

  /** The longest time between two scheduler calls. */
  get maxDelayMs(): number {
    return this.options.maxDelayMs ?? DEFAULT_DELAYS.maxDelayMs
  }

  /**
   * Polls at least every `ms` from now on (it never slows a watcher down): executors sharing the
   * process-wide watcher each ask for theirs, and the shortest wins, still one call per poll.
   */
  pollAtLeastEvery(ms: number): void {
    if (!(ms > 0)) throw new RangeError(`the longest poll interval must be a positive number of ms, got ${ms}`)
    const current = this.options.maxDelayMs ?? DEFAULT_DELAYS.maxDelayMs
    if (ms >= current) return
    this.options.maxDelayMs = ms
    this.options.minDelayMs = Math.min(this.options.minDelayMs ?? DEFAULT_DELAYS.minDelayMs, ms)
    // a poll already planned further away than that comes sooner
    if (this.nextSchedulerAt > Date.now() + ms) {
      this.nextSchedulerAt = Date.now() + ms
      if (this.timer && !this.polling) {
        clearTimeout(this.timer)
        this.timer = undefined
        this.schedule()
      }
    }
  }

  /** Stop watching a job (its pending waitFinal calls are rejected). */
  unregister(jobId: string): void {
    const job = this.jobs.get(jobId)
    if (!job) return
    this.jobs.delete(jobId)
    this.open.delete(job)
    this.waiterCount -= job.waiters.length
    for (const w of job.waiters) w.reject(new Error(`job ${jobId} is no longer watched`))
    this.refreshTimerRef()
  }

  /**
   * A new job now has this id (Slurm reuses ids once its state is reset): what was known about an
   * older job with the same id is dropped, and its pending waiters are rejected. `owner` names the
   * new job (its submission's nonce); see isOwner.
   */
  claim(jobId: string, owner: string): void {
    const previous = this.owners.get(jobId)
    if (previous === owner || (previous === undefined && !this.jobs.has(jobId))) return
    this.owners.set(jobId, owner)
    const job = this.jobs.get(jobId)
    if (!job) return
    this.jobs.delete(jobId)
    this.open.delete(job)
    this.waiterCount -= job.waiters.length
    for (const w of job.waiters) w.reject(new Error(`job id ${jobId} was given to a newer job (Slurm reuses ids once its state is reset)`))
    this.refreshTimerRef()
  }

  /** False for a job whose id a newer job has claimed: what the scheduler says is about that one. */
  isOwner(jobId: string, owner: string): boolean {
    const claimed = this.owners.get(jobId)
    return claimed === undefined || claimed === owner
  }

  state(jobId: string): JobState {
    return this.jobs.get(jobId)?.info.state ?? 'UNKNOWN'
  }

  info(jobId: string): JobInfo {
    const info = this.jobs.get(jobId)?.info
    if (!info) return { state: 'UNKNOWN', source: 'none' }
    const stale = settled(info) || info.state === 'UNKNOWN' ? undefined : this.staleness(info.state)
    return stale ? { ...info, reason: info.reason ? `${info.reason}; ${stale}` : stale } : { ...info }
  }

  /**
   * Why what is known of a job in `state` may be out of date: the scheduler does not answer. The
   * pending reason comes from squeue (the controller) every other poll: when it fails, a pending
   * job's state and reason are the database's, or older. When sacct fails too (or is off), nothing
   * answers at all.
   */
  private staleness(state: JobState): string | undefined {
    const { sacct: db, squeue: ctld } = this.down
    const sacctDown = db !== undefined || this.sacctDisabled
    if (ctld !== undefined && sacctDown) {
      return `as last seen: the scheduler does not answer (${this.sacctDisabled ? '' : `sacct: ${db}; `}squeue: ${ctld})`
    }
    if (ctld !== undefined && state === 'PENDING') return `as last seen: the controller does not answer (squeue: ${ctld})`
    return undefined
  }

  /** Records how a command's call ended (a failure's first line, or undefined when it answered). */
  private answered(command: 'sacct' | 'squeue', error?: unknown): void {
    if (error === undefined) {
      delete this.down[command]
      return
    }
    const e = error as { stderr?: string; message?: string }
    const text = (e.stderr?.trim() || e.message || String(error)).split('\n').find((l) => l.trim()) ?? 'failed'
    this.down[command] = text.trim()
  }

  /**
   * Resolves with the final state, or the state of a job that can never start (info().neverRuns);
   * keeps the process alive while pending. Registers the job if needed. An aborted `signal` stops
   * this wait (rejects with its reason), not the job.
   */
  waitFinal(jobId: string, signal?: AbortSignal): Promise<JobState> {
    if (!this.jobs.has(jobId)) this.register(jobId)
    const job = this.jobs.get(jobId)!
    if (settled(job.info)) return Promise.resolve(job.info.state)
    if (signal?.aborted) return Promise.reject(signal.reason)
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject }
      job.waiters.push(waiter)
      this.waiterCount++
      this.ensureTimer()
      this.refreshTimerRef()
      signal?.addEventListener(
        'abort',
        () => {
          const i = job.waiters.indexOf(waiter)
          if (i < 0) return
          job.waiters.splice(i, 1)
          this.waiterCount--
          this.refreshTimerRef() // a wait that gave up no longer keeps the process alive
          reject(signal.reason)
        },
        { once: true },
      )
    })
  }

  /**
   * Asks the scheduler now about every job not yet settled (one call), instead of at the next
   * poll: for a one-shot look (the CLI's status). A job not yet in sacct is looked up in squeue.
   */
  async refresh(): Promise<void> {
    while (this.polling) await new Promise((r) => setTimeout(r, 20))
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.nextSchedulerAt = 0
    this.polling = true
    try {
      await this.poll(true)
    } catch (e) {
      this.lastError = e instanceof Error ? e : new Error(String(e))
    } finally {
      this.polling = false
    }
    if (this.open.size > 0) this.schedule()
  }

  /** Stop polling and forget every job; pending waitFinal calls are rejected. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    const jobs = [...this.jobs.values()]
    this.jobs.clear()
    this.open.clear()
    this.waiterCount = 0
    for (const job of jobs) for (const w of job.waiters) w.reject(new Error('the Slurm watcher was stopped'))
  }

  private openJobs(): Watched[] {
    return [...this.open]
  }

  /** Pending waitFinal calls, counted (not scanned: 10,000 jobs each awaiting their result is common). */
  private waiterCount = 0

  private waiting(): boolean {
    return this.waiterCount > 0
  }

  /** Only a pending waitFinal keeps the process alive; listeners alone do not. */
  private refreshTimerRef(): void {
    if (!this.timer) return
    if (this.waiting()) this.timer.ref()
    else this.timer.unref()
  }

  private ensureTimer(): void {
    if (this.timer || this.polling) return
    const open = this.openJobs()
    if (open.length === 0) return
    if (this.nextSchedulerAt === 0) this.nextSchedulerAt = Date.now() + nextDelay(this.oldestAge(open), this.options)
    this.schedule()
  }

  private oldestAge(open: Iterable<Watched>): number {
    const now = Date.now()
    let age = 0
    for (const j of open) age = Math.max(age, now - j.registeredAt)
    return age
  }

  private schedule(): void {
    const wait = Math.max(0, Math.min(this.nextSchedulerAt - Date.now(), this.options.resultCheckMs ?? 1000))
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.tick()
    }, wait)
    this.refreshTimerRef()
  }

  private async tick(): Promise<void> {
    this.polling = true
    try {
      await this.poll()
    } catch (e) {
      this.lastError = e instanceof Error ? e : new Error(String(e))
    } finally {
      this.polling = false
    }
    if (this.open.size > 0) this.schedule()
    else this.nextSchedulerAt = 0 // next registration starts at the fast rate: nothing old is waiting
  }

  private async poll(now = false): Promise<void> {
    this.stats.polls++
    for (const job of this.openJobs()) {
      const done = this.checkResult(job)
      if (typeof done !== 'boolean') await done
    }
    const open = this.openJobs()
    // 5 ms slack: timers may fire a little early by Date.now(), which would make empty ticks
    if (open.length === 0 || (!now && Date.now() + 5 < this.nextSchedulerAt)) return
    try {
      await this.askScheduler(open, now)
    } finally {
      this.nextSchedulerAt = Date.now() + nextDelay(this.oldestAge(this.open), this.options)
    }
  }

  /** Asks the job's isFinished hook; awaits only a hook that returns a promise (10,000 jobs a poll). */
  private checkResult(job: Watched): boolean | Promise<boolean> {
    const hook = job.isFinished ?? this.options.isFinished
    if (!hook) return false
    try {
      const answer = hook(job.jobId)
      // a failing hook must not stop the watcher; the scheduler still answers
      if (typeof answer === 'boolean') return this.finishedByResult(job, answer)
      return answer.then(
        (done) => this.finishedByResult(job, done),
        () => false,
      )
    } catch {
      return false
    }
  }

  private finishedByResult(job: Watched, done: boolean): boolean {
    if (done) this.update(job, { state: 'COMPLETED', reason: 'result file present', source: 'result' })
    return done
  }

  private countCalls(kind: 'sacctCalls' | 'squeueCalls', ids: string[]): void {
    const n = batchIds(ids, this.options.commands?.maxIdsLength).length
    this.stats[kind] += n
    this.stats.schedulerCalls += n
  }

  private async askScheduler(open: Watched[], askNow = false): Promise<void> {
    // sacct's Reason of a pending job lags: it keeps 'Dependency' while squeue says
    // 'DependencyNeverSatisfied' (it is written to the database on state changes only). So while
    // jobs are pending, every other poll asks squeue about those jobs instead: still one call a poll.
    const pending = open.filter((j) => j.info.state === 'PENDING')
    if (!askNow && !this.sacctDisabled && pending.length > 0 && this.lastAsked === 'sacct') {
      this.lastAsked = 'squeue'
      await this.askReasons(pending)
      return
    }
    this.lastAsked = 'sacct'
    const at = Date.now()
    const baseSet = new Set<string>()
    for (const j of open) baseSet.add(j.baseId)
    const bases = [...baseSet]
    let fromSacct: Map<string, JobEntry> | undefined
    if (!this.sacctDisabled) {
      this.countCalls('sacctCalls', bases)
      try {
        fromSacct = parseSacct(await sacct(bases, this.options.commands))
        this.answered('sacct')
      } catch (e) {
        this.lastError = e as Error
        if (ACCOUNTING_OFF.test(String((e as { stderr?: string }).stderr ?? (e as Error).message))) this.sacctDisabled = true
        else this.answered('sacct', e)
      }
    }
    // each job's sacct row, looked up once (10,000 jobs a poll is common)
    const sacctRows: (JobEntry | undefined)[] = new Array(open.length)
    const needSqueue = new Set<Watched>()
    for (let i = 0; i < open.length; i++) {
      const j = open[i]
      const raw = fromSacct && lookup(fromSacct, j)
      sacctRows[i] = raw
      // a row with a blank (or unknown) state says nothing: as absent
      const row = known(raw)
      // a one-shot look (askNow) also asks squeue why pending jobs wait (sacct's reason lags)
      if (!fromSacct || (!row && (askNow || at - j.registeredAt >= (this.options.sacctAbsentMs ?? 10_000))) || (askNow && row?.state === 'PENDING')) {
        needSqueue.add(j)
      }
    }
    let fromSqueue: Map<string, JobEntry> | undefined
    if (needSqueue.size > 0) {
      const ids = [...new Set([...needSqueue].map((j) => j.baseId))]
      this.countCalls('squeueCalls', ids)
      try {
        fromSqueue = parseSqueue(await squeue(ids, this.options.commands))
        this.answered('squeue')
      } catch (e) {
        this.lastError = e as Error // controller unreachable: learn nothing this time
        this.answered('squeue', e)
      }
    }
    const stuck: Watched[] = []
    for (let i = 0; i < open.length; i++) {
      const job = open[i]
      const rawSacctRow = sacctRows[i]
      const sacctRow = known(rawSacctRow)
      const squeueRow = fromSqueue && known(lookup(fromSqueue, job))
      // squeue's row wins for a pending job (fresh reason), sacct's otherwise (exit codes)
      const inSacct = sacctRow && !(sacctRow.state === 'PENDING' && squeueRow) ? sacctRow : undefined
      const inSqueue = inSacct ? undefined : squeueRow
      if (inSacct || inSqueue) {
        job.missingSince = undefined
        const entry = inSacct ?? inSqueue!
        const source = inSacct ? 'sacct' : 'squeue'
        if (entry.state === 'PENDING' && isNeverRunnable(entry.reason)) {
          stuck.push(job)
          continue
        }
        // still pending: keep the reason squeue gave over sacct's older one
        if (source === 'sacct' && entry.state === 'PENDING' && job.info.state === 'PENDING' && job.info.source === 'squeue') continue
        // most polls change nothing for most jobs: no new info object then
        const reason = reasonOf(entry)
        if (entry.state !== job.info.state || source !== job.info.source || reason !== job.info.reason || isFinalState(entry.state)) {
          this.update(job, entryInfo(entry, source))
        }
      } else if (fromSqueue && needSqueue.has(job)) {
        await this.handleMissing(job, rawSacctRow !== undefined)
      } else {
        this.unanswered(job, fromSacct, rawSacctRow !== undefined, needSqueue.has(job))
      }
    }
    if (stuck.length > 0) await this.giveUp(stuck, fromSacct, fromSqueue)
  }

  /** The reasons-only poll: squeue about the pending jobs (their state too, if it changed). */
  private async askReasons(pending: Watched[]): Promise<void> {
    const ids = [...new Set(pending.map((j) => j.baseId))]
    this.countCalls('squeueCalls', ids)
    let fromSqueue: Map<string, JobEntry>
    try {
      fromSqueue = parseSqueue(await squeue(ids, this.options.commands))
      this.answered('squeue')
    } catch (e) {
      this.lastError = e as Error
      this.answered('squeue', e)
      return
    }
    const stuck: Watched[] = []
    for (const job of pending) {
      const entry = lookup(fromSqueue, job)
      if (!entry) continue // sacct will say, at the next poll
      job.missingSince = undefined
      if (entry.state === 'PENDING' && isNeverRunnable(entry.reason)) stuck.push(job)
      else if (entry.state !== job.info.state || reasonOf(entry) !== job.info.reason || job.info.source !== 'squeue') {
        this.update(job, entryInfo(entry, 'squeue'))
      }
    }
    if (stuck.length > 0) await this.giveUp(stuck, undefined, fromSqueue)
  }

  /**
   * Jobs Slurm keeps pending for a reason that means they never start: their waiters are released
   * (the caller says why), and those registered with cancelIfNeverRuns are cancelled (one scancel),
   * so that they do not sit in the queue, or start one day when no one waits for them any more.
   */
  private async giveUp(stuck: Watched[], fromSacct?: Map<string, JobEntry>, fromSqueue?: Map<string, JobEntry>): Promise<void> {
    const toCancel = stuck.filter((j) => j.cancelIfNeverRuns).map((j) => j.jobId)
    let cancelled = false
    if (toCancel.length > 0) {
      try {
        await scancel(toCancel, this.options.commands)
        cancelled = true
      } catch (e) {
        this.lastError = e as Error // they stay pending; their waiters are released all the same
      }
    }
    for (const job of stuck) {
      const entry = (fromSacct && lookup(fromSacct, job)) ?? (fromSqueue && lookup(fromSqueue, job))!
      const info = entryInfo(entry, fromSacct && lookup(fromSacct, job) ? 'sacct' : 'squeue')
      info.neverRuns = true
      if (cancelled && job.cancelIfNeverRuns) info.state = 'CANCELLED'
      this.update(job, info)
    }
  }

  /**
   * In neither sacct nor squeue (or blank in sacct): UNKNOWN, saying so, while the result file has
   * goneGraceMs to appear; then FAILED.
   */
  private async handleMissing(job: Watched, blank: boolean): Promise<void> {
    const now = Date.now() // after the squeue call: the grace period starts when absence was seen
    job.missingSince ??= now
    const grace = this.options.goneGraceMs ?? 30_000
    const what = blank ? 'sacct shows it without a state and squeue does not know it' : 'neither sacct nor squeue knows it'
    if (now - job.missingSince < grace) {
      // what was known before (RUNNING...) is no longer true: unknown, until the grace decides
      const reason = `${what}; waiting up to ${Math.ceil(grace / 1000)} s for its result before taking it for lost`
      if (job.info.state !== 'UNKNOWN' || job.info.reason !== reason)
        this.update(job, { state: 'UNKNOWN', reason, source: job.info.source === 'none' ? 'squeue' : job.info.source })
      return
    }
    if (await this.checkResult(job)) return
    this.update(job, {
      state: 'FAILED',
      reason: blank ? `${what} for ${Math.ceil(grace / 1000)} s, and it wrote no result` : 'gone from the queue without a result',
      source: 'gone',
    })
  }

  /**
   * The scheduler said nothing of the job this poll (sacct lags, or a command failed): a job that
   * was never seen reads UNKNOWN once the scheduler was asked, with why; a known state is kept.
   */
  private unanswered(job: Watched, fromSacct: Map<string, JobEntry> | undefined, blank: boolean, squeueAsked: boolean): void {
    if (job.info.state !== 'UNKNOWN') return
    const failed = this.lastError ? `: ${this.lastError.message.split('\n')[0]}` : ''
    const reason = !fromSacct
      ? `the scheduler did not answer (sacct${squeueAsked ? ' and squeue' : ''} failed${failed})`
      : squeueAsked
        ? `sacct does not show it and squeue did not answer${failed}`
        : blank
          ? 'sacct shows it without a state yet'
          : 'not in sacct yet (sacct lags the controller by a few seconds)'
    if (job.info.reason !== reason || job.info.source === 'none') this.update(job, { state: 'UNKNOWN', reason, source: fromSacct ? 'sacct' : 'none' })
  }

  private update(job: Watched, info: JobInfo): void {
    const before = job.info
    job.info = info
    // `open` stays the registered jobs not settled (a job updated after it was unregistered stays out)
    if (settled(info)) this.open.delete(job)
    else if (this.jobs.get(job.jobId) === job) this.open.add(job)
    const changed = before.state !== info.state || before.exitCode !== info.exitCode || before.reason !== info.reason || before.source !== info.source
    if (changed) {
      for (const listener of job.listeners) {
        try {
          listener({ ...info }, job.jobId)
        } catch {
          // a listener's bug must not break polling for every other job
        }
      }
    }
    if (settled(info)) {
      const waiters = job.waiters.splice(0)
      this.waiterCount -= waiters.length
      for (const w of waiters) w.resolve(info.state)
      this.refreshTimerRef()
    }
  }
}

/** A row that tells a state (sacct may print a job with a blank one), else undefined. */
function known(row: JobEntry | undefined): JobEntry | undefined {
  return row && row.state !== 'UNKNOWN' ? row : undefined
}

/** Nothing more to wait for: the job ended, or Slurm says it can never start. */
function settled(info: JobInfo): boolean {
  return isFinalState(info.state) || info.neverRuns === true
}

/**
 * A task's row, else (array task) the array's own row: before any task is known,
 * sacct prints an array as its bare id ('4|CANCELLED by 0'), later as the compact row.
 */
function lookup(entries: Map<string, JobEntry>, job: Watched): JobEntry | undefined {
  return entries.get(job.jobId) ?? (job.isArrayTask ? entries.get(job.baseId) : undefined)
}

/** States of a job that runs: a reason sacct still shows then is its last pending one (BeginTime after a requeue). */
const RUNS: ReadonlySet<JobState> = new Set(['RUNNING', 'COMPLETING'])

/** The scheduler's reason worth telling: none for 'None', nor for a job that runs. */
function reasonOf(e: JobEntry): string | undefined {
  return e.reason === undefined || e.reason === 'None' || RUNS.has(e.state) ? undefined : e.reason
}

function entryInfo(e: JobEntry, source: 'sacct' | 'squeue'): JobInfo {
  const final = isFinalState(e.state) // sacct prints 0:0 for jobs still pending or running
  return {
    state: e.state,
    ...(final && e.exitCode !== undefined ? { exitCode: e.exitCode } : {}),
    ...(final && e.signal !== undefined ? { signal: e.signal } : {}),
    ...(reasonOf(e) !== undefined ? { reason: reasonOf(e) } : {}),
    source,
  }
}

let shared: SlurmWatcher | undefined

/** The process-wide watcher. Options apply only when it is first created. */
export function getSharedWatcher(options?: SlurmWatcherOptions): SlurmWatcher {
  shared ??= new SlurmWatcher(options)
  return shared
}

/** Stop and drop the shared watcher (tests, or to change its options). */
export function resetSharedWatcher(): void {
  shared?.stop()
  shared = undefined
}
