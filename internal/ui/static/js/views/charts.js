// charts.js: the traffic split over time and each verification metric over time,
// drawn with uPlot (vendored). Charts are rebuilt on a theme change so their axes
// take the theme's colours.

import uPlot from '/vendor/uplot-1.6.32.esm.js';
import { h, replace } from '../dom.js';

const height = 200;

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// Time ticks fall on whole seconds at least, and read as wall-clock times.
const timeIncrs = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400];
const clock = (v) => new Date(v * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });

function axes(yLabel) {
  const stroke = css('--muted');
  const grid = { stroke: css('--grid'), width: 1 };
  return [
    { stroke, grid, ticks: grid, incrs: timeIncrs, space: 80, values: (u, splits) => splits.map(clock) },
    { stroke, grid, ticks: grid, label: yLabel, size: 52 },
  ];
}

/** Chart wraps one uPlot that follows its container's width and the theme. */
class Chart {
  constructor(el, build) {
    this.el = el;
    this.build = build; // (width) => uPlot options
    this.data = null;
    this.u = null;
    this.resize = new ResizeObserver(() => this.u && this.u.setSize({ width: this.width(), height }));
    this.resize.observe(el);
    this.rebuild = () => this.u && this.draw(this.data, true);
    window.addEventListener('sluice-theme', this.rebuild);
    this.mq = matchMedia('(prefers-color-scheme: dark)');
    this.mq.addEventListener('change', this.rebuild);
  }

  width() {
    return Math.max(240, this.el.clientWidth);
  }

  draw(data, fresh) {
    this.data = data;
    if (this.u && !fresh) { this.u.setData(data); return; }
    if (this.u) this.u.destroy();
    clearChildren(this.el);
    this.u = new uPlot(this.build(this.width()), data, this.el);
  }

  destroy() {
    this.resize.disconnect();
    window.removeEventListener('sluice-theme', this.rebuild);
    this.mq.removeEventListener('change', this.rebuild);
    if (this.u) this.u.destroy();
  }
}

// describe gives a chart its text alternative: the chart box is an image whose
// accessible name says what it shows (the numbers are in the tables beside it).
function describe(el, text) {
  el.setAttribute('role', 'img');
  el.setAttribute('aria-label', text);
}

function clearChildren(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/** TrafficChart plots the green and blue shares from `weights` events. */
export class TrafficChart {
  constructor(el) {
    this.points = [];
    this.live = true;
    this.placeholder = h('p', { class: 'chart-empty muted' }, 'No traffic change yet.');
    this.box = h('div', { class: 'chart-box' });
    replace(el, this.placeholder, this.box);
    this.chart = new Chart(this.box, (width) => ({
      width, height, legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { y: { range: [0, 100] } },
      axes: axes('% of traffic'),
      series: [{}, this.series('green', '--green'), this.series('blue', '--blue')],
    }));
  }

  series(label, colour) {
    return { label, stroke: css(colour), width: 2, fill: css(colour) + '22', paths: uPlot.paths.stepped({ align: 1 }), value: (u, v) => (v == null ? '' : `${v}%`) };
  }

  /** add records one confirmed split. */
  add(ev) {
    const d = ev.data || {};
    if (typeof d.green !== 'number' || typeof d.blue !== 'number') return;
    this.points.push([new Date(ev.at).getTime() / 1000, d.green, d.blue]);
    this.redraw();
  }

  /** tick extends the last split to now while the execution runs. */
  tick(live) {
    this.live = live;
    if (this.points.length && live) this.redraw();
  }

  redraw() {
    this.placeholder.hidden = true;
    const pts = [...this.points];
    const last = pts[pts.length - 1];
    const now = Date.now() / 1000;
    if (this.live && now > last[0]) pts.push([now, last[1], last[2]]);
    this.chart.draw([pts.map((p) => p[0]), pts.map((p) => p[1]), pts.map((p) => p[2])]);
    describe(this.box, `Traffic over time, ${this.points.length} changes: now green ${last[1]}%, blue ${last[2]}%.`);
  }

  destroy() {
    this.chart.destroy();
  }
}

const verdictColour = { Successful: '--ok', Inconclusive: '--warn', Failed: '--bad', Error: '--bad' };
const verdictWord = { Successful: 'passed', Inconclusive: 'inconclusive', Failed: 'failed', Error: 'error' };

function num(v) {
  if (v === null || v === undefined) return null;
  const n = typeof v === 'string' ? Number(v) : v;
  return Number.isFinite(n) ? n : null;
}

// short writes a number as verify.Unit.Format does: three significant digits
// below 100, whole from 100. The words of a verdict come from the server; this
// only labels the axis.
function short(v) {
  const a = Math.abs(v);
  if (v === 0) return '0';
  if (a >= 100) return String(Math.round(v));
  if (a >= 0.001) return String(Number(v.toPrecision(3)));
  return v.toPrecision(2);
}

/** fmtUnit writes a value in a metric's unit (ratio as a percentage, ms/s, req/s, bytes). */
export function fmtUnit(unit, v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  switch (unit) {
    case 'ratio': return `${short(v * 100)}%`;
    case 'percent': return `${short(v)}%`;
    case 'ms': return Math.abs(v) >= 1000 ? `${short(v / 1000)} s` : `${short(v)} ms`;
    case 's': return v !== 0 && Math.abs(v) < 1 ? `${short(v * 1000)} ms` : `${short(v)} s`;
    case 'rps': return `${short(v)} req/s`;
    case 'bytes': {
      const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
      let i = 0;
      while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
      return `${short(v)} ${units[i]}`;
    }
    default: return short(v);
  }
}

const unitLabel = { ratio: '% of requests', percent: '%', ms: 'milliseconds', s: 'seconds', count: 'count', rps: 'requests/s', bytes: 'bytes' };

// valueOf is a measurement's canary or baseline value in the metric's unit: the
// summary's when the record has one, else the raw observation's.
function valueOf(m, side) {
  if (m.summary && m.summary[side] !== undefined) return num(m.summary[side]);
  return num(m[side]?.value);
}

/** Measurements draws the verification of each verify step: a section per step
 * with its name, and in it one chart per metric (values in the metric's unit,
 * its limit as a line, traffic moves as markers) over a table of its
 * measurements in plain words. */
export class Measurements {
  constructor(el) {
    this.el = el;
    this.metrics = new Map(); // step|metric -> entry
    this.steps = new Map(); // step -> section element
    this.moves = []; // [{t, green, blue}] confirmed splits
    this.thresholds = () => []; // (step, metric) => [{value, kind}], set by the view
    this.stepName = (step) => step; // set by the view
  }

  /** add records one judged measurement. */
  add(ev) {
    const m = ev.data;
    if (!m || !m.metric) return;
    this.el.hidden = false;
    const key = `${ev.step || ''}|${m.metric}`;
    const entry = this.metrics.get(key) || this.create(m, ev.step || '', key);
    entry.rows.push(m);
    if (m.summary?.unit) entry.unit = m.summary.unit;
    if (m.summary?.title) entry.heading.firstChild.textContent = m.summary.title;
    this.addRow(entry, m);
    this.redraw(entry);
  }

  /** addMove records a confirmed traffic split, drawn as a marker on every chart. */
  addMove(ev) {
    const d = ev.data || {};
    if (typeof d.green !== 'number' || typeof d.blue !== 'number') return;
    this.moves.push({ t: new Date(ev.at).getTime() / 1000, green: d.green, blue: d.blue });
    for (const e of this.metrics.values()) if (e.chart.u) e.chart.u.redraw(false);
  }

  /** latest returns the last measurement of each metric of the steps whose key
   * starts with prefix (a phase: "p2."), in the order they were first seen. */
  latest(prefix) {
    return [...this.metrics.values()].filter((e) => e.step.startsWith(prefix)).map((e) => ({ step: e.step, m: e.rows[e.rows.length - 1] }));
  }

  section(step) {
    let sec = this.steps.get(step);
    if (sec) return sec;
    const name = this.stepName(step) || step;
    sec = h('div', { class: 'verify-step', 'data-step': step },
      h('h3', {}, name, h('span', { class: 'muted small' }, ` · ${step}`)), h('div', { class: 'metric-grid' }));
    this.el.querySelector('.metric-list').append(sec);
    this.steps.set(step, sec);
    return sec;
  }

  /** renameSteps puts the steps' names on their sections once the view knows them. */
  renameSteps() {
    for (const [step, sec] of this.steps) {
      const name = this.stepName(step);
      if (name) sec.querySelector('h3').firstChild.textContent = name;
    }
  }

  create(m, step, key) {
    const box = h('div', { class: 'chart-box' });
    const body = h('tbody', {});
    const heading = h('h4', {}, m.summary?.title || m.metric, h('span', { class: 'muted small' }, ` · ${m.metric} · ${m.judge}`));
    const table = h('div', { class: 'measure-table' }, h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'time'), h('th', {}, 'canary'), h('th', {}, 'baseline'), h('th', {}, 'verdict'))), body));
    this.section(step).querySelector('.metric-grid').append(h('div', { class: 'metric', 'data-metric': m.metric }, heading, box, table));
    const entry = { rows: [], body, heading, baseline: false, step, metric: m.metric, unit: m.summary?.unit || '' };
    entry.chart = new Chart(box, (width) => this.options(width, entry));
    this.metrics.set(key, entry);
    return entry;
  }

  addRow(entry, m) {
    const text = m.summary?.text || [m.reason, m.error].filter(Boolean).join(' — ');
    const fmt = (side) => (m[side] === undefined || m[side] === null ? '' : valueOf(m, side) === null ? (m[side].noData ? 'no data' : '—') : fmtUnit(entry.unit, valueOf(m, side)));
    entry.body.prepend(h('tr', { class: `v-${m.verdict}`, title: text },
      h('td', {}, new Date(m.at).toLocaleTimeString([], { hour12: false })),
      h('td', {}, fmt('canary')), h('td', {}, fmt('baseline')),
      h('td', {}, h('span', { class: `chip v-${m.verdict}` }, verdictWord[m.verdict] || m.verdict))));
  }

  options(width, entry) {
    const fmt = (u, v) => (v == null ? '' : fmtUnit(entry.unit, v));
    const series = [{}, { label: 'canary', stroke: css('--blue'), width: 2, points: { show: false }, value: fmt }];
    if (entry.baseline) series.push({ label: 'baseline (live)', stroke: css('--green'), width: 2, dash: [6, 4], points: { show: false }, value: fmt });
    const ax = axes(unitLabel[entry.unit] || 'value');
    ax[1].values = (u, splits) => splits.map((v) => fmtUnit(entry.unit, v));
    ax[1].size = 64;
    return {
      width, height, legend: { live: false }, cursor: { drag: { x: false, y: false } },
      axes: ax, series,
      scales: { x: { time: true, range: (u, min, max) => this.span(min, max) }, y: { range: (u, min, max) => this.range(entry, min, max) } },
      hooks: { draw: [(u) => this.lines(u, entry), (u) => this.traffic(u), (u) => this.marks(u, entry)] },
    };
  }

  // span widens a chart's time range to show the split in effect when its first
  // measurement was taken (the move at most five minutes before it).
  span(min, max) {
    const before = this.moves.filter((mv) => mv.t <= min && mv.t >= min - 300).pop();
    const lo = before ? before.t - 1 : min;
    return lo === max ? [lo - 1, max + 1] : [lo, max];
  }

  // limits are the metric's limit from its records, else the workflow's conditions.
  limits(entry) {
    const last = entry.rows[entry.rows.length - 1];
    const l = num(last?.summary?.limit);
    if (l !== null) return [{ value: l, kind: 'fail' }];
    return this.thresholds(entry.step, entry.metric);
  }

  // range keeps the limits in view with the data.
  range(entry, min, max) {
    const vals = [min, max, ...this.limits(entry).map((t) => t.value)].filter(Number.isFinite);
    if (!vals.length) return [0, 1];
    let lo = Math.min(...vals);
    let hi = Math.max(...vals);
    const pad = (hi - lo) * 0.1 || Math.abs(hi) * 0.1 || 1;
    lo = lo >= 0 && lo - pad < 0 ? 0 : lo - pad;
    hi += pad;
    return [lo, hi];
  }

  // lines draws each limit as a dashed line in its verdict's colour.
  lines(u, entry) {
    const ctx = u.ctx;
    const { left, width } = u.bbox;
    for (const t of this.limits(entry)) {
      const y = u.valToPos(t.value, 'y', true);
      ctx.save();
      ctx.strokeStyle = css(t.kind === 'fail' ? '--bad' : '--ok');
      ctx.setLineDash([5 * devicePixelRatio, 4 * devicePixelRatio]);
      ctx.lineWidth = devicePixelRatio;
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(left + width, y);
      ctx.stroke();
      ctx.fillStyle = ctx.strokeStyle;
      ctx.font = `${11 * devicePixelRatio}px sans-serif`;
      const label = `limit ${fmtUnit(entry.unit, t.value)}`;
      ctx.fillText(label, left + width - ctx.measureText(label).width - 4 * devicePixelRatio, y - 4 * devicePixelRatio);
      ctx.restore();
    }
  }

  // traffic draws each confirmed split inside the chart's time range as a
  // vertical marker labelled with the new slot's share.
  traffic(u) {
    const ctx = u.ctx;
    const { top, height: hgt } = u.bbox;
    const [x0, x1] = [u.scales.x.min, u.scales.x.max];
    for (const mv of this.moves) {
      if (!(mv.t >= x0 && mv.t <= x1)) continue;
      const x = u.valToPos(mv.t, 'x', true);
      ctx.save();
      ctx.strokeStyle = css('--muted');
      ctx.setLineDash([2 * devicePixelRatio, 3 * devicePixelRatio]);
      ctx.lineWidth = devicePixelRatio;
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + hgt);
      ctx.stroke();
      ctx.fillStyle = css('--muted');
      ctx.font = `${11 * devicePixelRatio}px sans-serif`;
      ctx.fillText(`⇄ green ${mv.green}% · blue ${mv.blue}%`, x + 3 * devicePixelRatio, top + 12 * devicePixelRatio);
      ctx.restore();
    }
  }

  // marks paints each measurement's canary point in its verdict's colour.
  marks(u, entry) {
    const ctx = u.ctx;
    entry.rows.forEach((m, i) => {
      const v = u.data[1][i];
      if (v == null) return;
      ctx.beginPath();
      ctx.fillStyle = css(verdictColour[m.verdict] || '--muted');
      ctx.arc(u.valToPos(u.data[0][i], 'x', true), u.valToPos(v, 'y', true), 5 * devicePixelRatio, 0, 2 * Math.PI);
      ctx.fill();
    });
  }

  redraw(entry) {
    const xs = entry.rows.map((m) => new Date(m.at).getTime() / 1000);
    const canary = entry.rows.map((m) => valueOf(m, 'canary'));
    const hadBaseline = entry.baseline;
    entry.baseline = entry.rows.some((m) => m.baseline);
    const data = [xs, canary];
    if (entry.baseline) data.push(entry.rows.map((m) => valueOf(m, 'baseline')));
    entry.chart.draw(data, hadBaseline !== entry.baseline);
    const last = entry.rows[entry.rows.length - 1];
    describe(entry.chart.el, `${entry.metric}: ${entry.rows.length} measurements; the latest is ${verdictWord[last?.verdict] || last?.verdict || 'unknown'}. The table beside the chart lists each one.`);
  }

  /** redrawAll draws every chart again, e.g. once the thresholds are known. */
  redrawAll() {
    this.renameSteps();
    for (const e of this.metrics.values()) e.chart.draw(e.chart.data, true);
  }

  destroy() {
    for (const e of this.metrics.values()) e.chart.destroy();
  }
}
