import t from 'tap'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  expandArrayRange,
  isFinalState,
  maxArraySize,
  normalizeState,
  parseJobId,
  parseSacct,
  parseSacctTimes,
  parseScontrolConfig,
  parseSqueue,
} from '../dist/lib/slurm/parse.js'

const here = dirname(fileURLToPath(import.meta.url))

// All of these were printed by the Slurm 22.05 cluster of scripts/slurm/start.sh.
const SACCT_STEPS = `2|FAILED|3:0
2.batch|FAILED|3:0
3|CANCELLED by 0|0:0
1_0|COMPLETED|0:0
1_0.batch|COMPLETED|0:0
1_1|COMPLETED|0:0
1_1.batch|COMPLETED|0:0
1_5|COMPLETED|0:0
1_5.batch|COMPLETED|0:0
4_[0-3,7,9-12%3]|CANCELLED by 0|0:0
`

const SQUEUE_COMPACT = `1_[2-5%2]|PENDING|JobArrayTaskLimit
2|PENDING|Resources
3|PENDING|Priority
4_[0-3,7,9-12%3]|PENDING|Priority
1_0|RUNNING|None
1_1|RUNNING|None
`

const SQUEUE_EXPANDED = `1_4|PENDING|JobArrayTaskLimit
1_5|PENDING|JobArrayTaskLimit
2|PENDING|Resources
4_0|CANCELLED|Priority
4_12|CANCELLED|Priority
1_0|COMPLETED|None
1_2|RUNNING|None
`

t.test('states', async (t) => {
  t.equal(normalizeState('CANCELLED by 0'), 'CANCELLED')
  t.equal(normalizeState('CANCELLED by 1234'), 'CANCELLED')
  t.equal(normalizeState('COMPLETED'), 'COMPLETED')
  t.equal(normalizeState(' running '), 'RUNNING')
  t.equal(normalizeState('CANCELLED+'), 'CANCELLED')
  t.equal(normalizeState('OUT_OF_MEMORY'), 'OUT_OF_MEMORY')
  t.equal(normalizeState('REQUEUE_HOLD'), 'REQUEUED')
  t.equal(normalizeState('CONFIGURING'), 'RUNNING')
  t.equal(normalizeState('SPECIAL_EXIT'), 'FAILED')
  t.equal(normalizeState('WEIRD'), 'UNKNOWN')
  t.equal(normalizeState(''), 'UNKNOWN')
  for (const s of ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'BOOT_FAIL', 'DEADLINE'] as const) {
    t.ok(isFinalState(s), s)
  }
  for (const s of ['PENDING', 'RUNNING', 'REQUEUED', 'COMPLETING', 'SUSPENDED', 'PREEMPTED', 'UNKNOWN'] as const) {
    t.notOk(isFinalState(s), s)
  }
})

t.test('array ranges and ids', async (t) => {
  t.same(expandArrayRange('2-4%25'), [2, 3, 4])
  t.same(expandArrayRange('2-7,12-17,22%56'), [2, 3, 4, 5, 6, 7, 12, 13, 14, 15, 16, 17, 22])
  t.same(expandArrayRange('2-5%2'), [2, 3, 4, 5])
  t.same(expandArrayRange('7'), [7])
  t.same(expandArrayRange('1-9:4'), [1, 5, 9])
  t.equal(expandArrayRange('x-3'), undefined)
  t.equal(expandArrayRange('5-2'), undefined)
  t.same(parseJobId('12'), { baseId: '12', compact: false, step: false })
  t.same(parseJobId('12_3'), { baseId: '12', tasks: [3], compact: false, step: false })
  t.same(parseJobId('12.batch'), { baseId: '12', compact: false, step: true })
  t.same(parseJobId('12_3.0'), { baseId: '12', tasks: [3], compact: false, step: true })
  t.equal(parseJobId('12_3.extern')?.step, true)
  t.equal(parseJobId('JobID'), undefined)
})

t.test('parseSacct: steps ignored, CANCELLED by 0, compact rows expanded, exit codes', async (t) => {
  const m = parseSacct(SACCT_STEPS)
  t.same([...m.keys()], ['2', '3', '1_0', '1_1', '1_5', '4_0', '4_1', '4_2', '4_3', '4_7', '4_9', '4_10', '4_11', '4_12'])
  t.same(m.get('2'), { jobId: '2', baseId: '2', state: 'FAILED', rawState: 'FAILED', exitCode: 3, signal: 0, compact: false })
  t.equal(m.get('3')?.state, 'CANCELLED')
  t.equal(m.get('3')?.rawState, 'CANCELLED by 0')
  t.same(m.get('4_9'), { jobId: '4_9', baseId: '4', taskId: 9, state: 'CANCELLED', rawState: 'CANCELLED by 0', exitCode: 0, signal: 0, compact: true })
  t.equal(m.get('1_1')?.taskId, 1)
})

t.test('parseSacct: explicit task rows beat the compact row, in any order', async (t) => {
  // sacct while an array runs: started tasks have rows, the rest only the compact one.
  const before = parseSacct('158_0|COMPLETED|0:0\n158_1|RUNNING|0:0\n158_[1-5%2]|PENDING|0:0\n')
  const after = parseSacct('158_[1-5%2]|PENDING|0:0\n158_0|COMPLETED|0:0\n158_1|RUNNING|0:0\n')
  for (const m of [before, after]) {
    t.equal(m.get('158_0')?.state, 'COMPLETED')
    t.equal(m.get('158_1')?.state, 'RUNNING')
    t.equal(m.get('158_1')?.compact, false)
    t.equal(m.get('158_4')?.state, 'PENDING')
    t.equal(m.get('158_4')?.compact, true)
  }
  t.equal(parseSacct('12_[2-4%25]|PENDING|0:0').size, 3)
  t.same([...parseSacct('26_[0]|CANCELLED by 0|0:0').keys()], ['26_0'], 'a one-task array cancelled before it started')
  t.equal(parseSacct('20_[2-7,12-17,22%56]|PENDING|0:0').size, 13)
})

t.test('parseSacct tolerates junk', async (t) => {
  const m = parseSacct('\n  \nsacct: warning: something\nJobID|State|ExitCode\n5|TIMEOUT|0:15\n6|OUT_OF_MEMORY|0:125\n7|COMPLETED\n')
  t.same([...m.keys()], ['5', '6', '7'])
  t.equal(m.get('5')?.signal, 15)
  t.equal(m.get('6')?.state, 'OUT_OF_MEMORY')
  t.equal(m.get('7')?.exitCode, undefined)
})

t.test('parseSacct: only well-formed ids are rows; spaces and CRLF around fields are trimmed', async (t) => {
  const m = parseSacct(
    ['_3|RUNNING|0:0', '12_|RUNNING|0:0', '12__3|RUNNING|0:0', '12_3_4|RUNNING|0:0', 'a_3|RUNNING|0:0', '12_3x|RUNNING|0:0', '|RUNNING|0:0'].join('\n') +
      '\n 40_7 | RUNNING |0:0| None \r\n41_2|PENDING|0:0|Priority\r\n42|COMPLETED|0:0\r\n',
  )
  t.same([...m.keys()], ['40_7', '41_2', '42'], 'the malformed ids are skipped')
  t.same(m.get('40_7'), {
    jobId: '40_7',
    baseId: '40',
    taskId: 7,
    state: 'RUNNING',
    rawState: 'RUNNING',
    exitCode: 0,
    signal: 0,
    reason: 'None',
    compact: false,
  })
  t.equal(m.get('41_2')?.reason, 'Priority')
  t.equal(m.get('42')?.state, 'COMPLETED')
  t.equal(m.get('42')?.taskId, undefined)
  t.equal(parseSacct('007_010|RUNNING|0:0').get('007_010')?.taskId, 10, 'leading zeros: the id as printed is the key')
})

t.test('parseSqueue: compact and expanded forms, reasons', async (t) => {
  const compact = parseSqueue(SQUEUE_COMPACT)
  t.equal(compact.size, 2 + 4 + 9 + 2)
  t.same(compact.get('1_3'), { jobId: '1_3', baseId: '1', taskId: 3, state: 'PENDING', rawState: 'PENDING', reason: 'JobArrayTaskLimit', compact: true })
  t.equal(compact.get('1_0')?.state, 'RUNNING')
  t.equal(compact.get('2')?.reason, 'Resources')
  const expanded = parseSqueue(SQUEUE_EXPANDED)
  t.same([...expanded.keys()], ['1_4', '1_5', '2', '4_0', '4_12', '1_0', '1_2'])
  t.equal(expanded.get('4_12')?.state, 'CANCELLED')
  t.equal(expanded.get('1_0')?.exitCode, undefined, 'squeue has no exit code')
})

t.test('parseScontrolConfig on the real output', async (t) => {
  const text = readFileSync(join(here, '..', 'fixtures', 'fake-slurm', 'scontrol-show-config.txt'), 'utf8')
  const config = parseScontrolConfig(text)
  t.equal(config.get('MaxArraySize'), '1001')
  t.equal(config.get('MinJobAge'), '300 sec')
  t.equal(config.get('AuthInfo'), 'cred_expire=10')
  t.equal(config.get('SlurmctldHost[0]'), 'vm(127.0.0.1)')
  t.equal(config.get('SLURM_VERSION'), '22.05.8')
  t.notOk([...config.keys()].some((k) => k.startsWith('Configuration') || k.startsWith('Slurmctld(')))
  t.equal(maxArraySize(config), 1001)
  t.equal(maxArraySize(new Map()), 1001)
  t.equal(maxArraySize(parseScontrolConfig('MaxArraySize            = 40001\n')), 40001)
})

t.test('parseSacctTimes: start, end, first node and submit time; not-a-time and pending rows left out', async (t) => {
  const text = [
    '12_0|2025-01-02T10:00:03|2025-01-02T10:01:03|node[3-5,7]|2025-01-02T09:59:58',
    '12_1|2025-01-02T10:00:04|Unknown|gpu01,gpu02|2025-01-02T09:59:58',
    '12_2|Unknown|Unknown|None assigned|2025-01-02T09:59:58',
    '12_[3-9]|Unknown|Unknown|None assigned|2025-01-02T09:59:58',
    'garbage',
    '13|2025-01-02T11:00:00|2025-01-02T11:00:01|vm|2025-01-02T10:59:00',
  ].join('\n')
  const m = parseSacctTimes(text)
  t.same([...m.keys()], ['12_0', '12_1', '12_2', '13'])
  t.same(m.get('12_0'), {
    startedAt: new Date('2025-01-02T10:00:03').getTime(),
    endedAt: new Date('2025-01-02T10:01:03').getTime(),
    submittedAt: new Date('2025-01-02T09:59:58').getTime(),
    host: 'node3',
  })
  t.same(m.get('12_1'), { startedAt: new Date('2025-01-02T10:00:04').getTime(), submittedAt: new Date('2025-01-02T09:59:58').getTime(), host: 'gpu01' })
  t.same(m.get('12_2'), { submittedAt: new Date('2025-01-02T09:59:58').getTime() })
  t.equal(m.get('13')?.host, 'vm')
})
