// The report of an array as one self-contained HTML page (no network): a timeline (each job a bar
// from its start to its end, one lane per worker thread or node, coloured by state), the duration
// histogram, the slowest jobs and the failed ones with their errors and log tails. The tables are
// plain HTML; the two charts are SVG drawn by the page's own script from the data embedded in it.
import { type ReportData, type ReportDetail, TIMELINE_WIDTH } from './data.js'

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

function ms(d: number | null): string {
  if (d === null) return '-'
  return d < 1000 ? `${Math.round(d)} ms` : d < 60_000 ? `${(d / 1000).toFixed(2)} s` : `${(d / 60_000).toFixed(1)} min`
}

function details(rows: ReportDetail[], withError: boolean): string {
  if (rows.length === 0) return '<p class="none">none</p>'
  return rows
    .map(
      (r) => `<details class="job state-${esc(r.state)}"${withError ? ' open' : ''} data-job="${esc(r.jobId)}">
<summary><b>${esc(r.jobId)}</b> <span class="badge state-${esc(r.state)}">${esc(r.state)}</span> ${esc(ms(r.durationMs))}${r.where ? ` on ${esc(r.where)}` : ''}</summary>
${r.error ? `<h4>error</h4><pre class="error">${esc(r.error)}</pre>` : ''}
${r.stderrTail ? `<h4>stderr (last lines)</h4><pre>${esc(r.stderrTail)}</pre>` : ''}
${r.stdoutTail ? `<h4>stdout (last lines)</h4><pre>${esc(r.stdoutTail)}</pre>` : ''}
</details>`,
    )
    .join('\n')
}

export function renderReport(data: ReportData): string {
  const summary = Object.entries(data.counts)
    .sort((a, b) => b[1] - a[1])
    .map(([s, n]) => `<span class="badge state-${esc(s)}">${n} ${esc(s.toLowerCase())}</span>`)
    .join(' ')
  const tl = data.timeline
  // compact rows for the page's script: [lane, start - t0, end - t0, state, jobId or null, count]
  const states = [...new Set(tl?.bars.map((b) => b.state) ?? [])]
  const page = {
    timeline: tl && {
      span: Math.max(tl.t1 - tl.t0, 1),
      lanes: tl.lanes,
      states,
      bars: tl.bars.map((b) => [b.lane, b.start - tl.t0, b.end - tl.t0, states.indexOf(b.state), b.jobId, b.count]),
    },
    histogram: data.histogram,
  }
  // </script> (or <!--) in a job id or a lane name cannot end the data early: every '<' is escaped
  const json = JSON.stringify(page).replace(/</g, '\\u003c')
  const timelineNote = !tl
    ? ''
    : tl.merged
      ? `${tl.timed} jobs with timings, drawn as ${tl.bars.length} bars: jobs of a lane that follow each other within a pixel and ended alike share one bar (hover for how many)`
      : `${tl.timed} jobs with timings`
  const untimed = data.untimed > 0 ? `; ${data.untimed} ended without timings (stopped or killed before they could record them)` : ''
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>submitit-ts report: ${esc(data.arrayId)}</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; } h4 { margin: 8px 0 2px; font-size: 12px; color: #555; }
.meta { color: #555; margin-bottom: 8px; }
.badge { display: inline-block; padding: 1px 7px; border-radius: 9px; color: #fff; font-size: 12px; }
.state-COMPLETED { background: #2e9e5b; fill: #2e9e5b; } .state-FAILED { background: #d64545; fill: #d64545; }
.state-TIMEOUT { background: #e08a1e; fill: #e08a1e; } .state-CANCELLED { background: #888; fill: #888; }
.state-RUNNING { background: #3b7dd8; fill: #3b7dd8; } .state-PENDING { background: #bbb; fill: #bbb; }
.state-OUT_OF_MEMORY, .state-NODE_FAIL { background: #a02c8c; fill: #a02c8c; }
svg { display: block; background: #fafafa; border: 1px solid #e4e4e4; }
svg text { font-size: 11px; fill: #444; }
details.job { background: none; border-left: 4px solid #ccc; padding: 4px 10px; margin: 6px 0; }
details.job.state-FAILED { border-color: #d64545; } details.job.state-TIMEOUT { border-color: #e08a1e; }
details.job summary { cursor: pointer; }
pre { background: #f4f4f4; padding: 8px; overflow-x: auto; font-size: 12px; margin: 2px 0; white-space: pre-wrap; }
pre.error { background: #fdeeee; }
.legend span { margin-right: 10px; } .none { color: #777; }
</style></head>
<body>
<h1>Array ${esc(data.arrayId)} — ${esc(data.task)}</h1>
<div class="meta">${data.total} job${data.total === 1 ? '' : 's'} on ${esc(data.backend)}, folder ${esc(data.folder)}; report made ${esc(new Date(data.generatedAt).toISOString())}</div>
<div>${summary}</div>
<h2>Timeline</h2>
<div class="meta">each job a bar from its start to its end, one lane per worker thread or node; ${esc(timelineNote || 'no timings recorded yet')}${esc(untimed)}</div>
<div id="timeline"></div>
<h2>Durations</h2>
<div id="histogram"></div>
<h2>Failed jobs (${data.failedCount}${data.failedCount > data.failed.length ? `, the first ${data.failed.length} shown` : ''})</h2>
<div id="failed">${details(data.failed, true)}</div>
<h2>Slowest jobs</h2>
<div id="slowest">${details(data.slowest, false)}</div>
<script type="application/json" id="data">${json}</script>
<script>
(function () {
  var data = JSON.parse(document.getElementById('data').textContent)
  var NS = 'http://www.w3.org/2000/svg'
  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name)
    for (var k in attrs) e.setAttribute(k, attrs[k])
    if (parent) parent.appendChild(e)
    return e
  }
  function fmt(d) { return d < 1000 ? Math.round(d) + ' ms' : d < 60000 ? (d / 1000).toFixed(2) + ' s' : (d / 60000).toFixed(1) + ' min' }
  var tl = document.getElementById('timeline')
  var t = data.timeline
  if (!t) { tl.innerHTML = '<p class="none">no timings recorded yet</p>' }
  else {
    var left = 170, width = ${TIMELINE_WIDTH}, laneH = 18, top = 10
    var svg = el('svg', { width: left + width + 20, height: top + t.lanes.length * laneH + 30, id: 'timeline-svg' }, tl)
    t.lanes.forEach(function (n, i) { el('text', { x: 4, y: top + i * laneH + 13 }, svg).textContent = n })
    t.bars.forEach(function (b) {
      var state = t.states[b[3]]
      var attrs = { x: left + b[1] / t.span * width, y: top + b[0] * laneH + 2, width: Math.max((b[2] - b[1]) / t.span * width, 1), height: laneH - 4, 'class': 'bar state-' + state }
      if (b[4] !== null) attrs['data-job'] = b[4]
      else attrs['data-count'] = b[5]
      var r = el('rect', attrs, svg)
      el('title', {}, r).textContent = (b[4] !== null ? b[4] : b[5] + ' jobs') + ' ' + state + ' ' + fmt(b[2] - b[1])
    })
    var axisY = top + t.lanes.length * laneH + 16
    for (var k = 0; k <= 4; k++) el('text', { x: left + k * width / 4 - (k === 4 ? 30 : 0), y: axisY }, svg).textContent = '+' + fmt(t.span * k / 4)
  }
  var hist = document.getElementById('histogram')
  var h = data.histogram
  if (!h) { hist.innerHTML = '<p class="none">no timings recorded yet</p>'; return }
  var bins = h.counts.length, max = 0
  h.counts.forEach(function (c) { if (c > max) max = c })
  var bw = 40, hh = 140
  var hs = el('svg', { width: bins * bw + 60, height: hh + 40, id: 'histogram-svg' }, hist)
  h.counts.forEach(function (c, i) {
    var bh = c / max * hh
    var r = el('rect', { x: 40 + i * bw + 2, y: 10 + hh - bh, width: bw - 4, height: bh, fill: '#3b7dd8', 'class': 'hist-bar' }, hs)
    el('title', {}, r).textContent = c + ' jobs, ' + fmt(h.lo + (h.hi - h.lo) * i / bins) + ' to ' + fmt(h.lo + (h.hi - h.lo) * (i + 1) / bins)
  })
  el('text', { x: 40, y: hh + 28 }, hs).textContent = fmt(h.lo)
  el('text', { x: 40 + bins * bw - 50, y: hh + 28 }, hs).textContent = fmt(h.hi)
  el('text', { x: 2, y: 20 }, hs).textContent = String(max)
})()
</script>
</body></html>
`
}
