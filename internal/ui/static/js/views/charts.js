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
  }

  destroy() {
    this.chart.destroy();
  }
}

const verdictColour = { Successful: '--ok', Inconclusive: '--warn', Failed: '--bad', Error: '--bad' };

function num(v) {
  if (v === null || v === undefined) return null;
  const n = typeof v === 'string' ? Number(v) : v;
  return Number.isFinite(n) ? n : null;
}

/** Measurements plots each verification metric from `measurement` events. */
export class Measurements {
  constructor(el) {
    this.el = el;
    this.metrics = new Map(); // name -> {chart, rows, chips}
    this.thresholds = () => []; // (step, metric) => [{value, kind}], set by the view
  }

  /** add records one judged measurement. */
  add(ev) {
    const m = ev.data;
    if (!m || !m.metric) return;
    this.el.hidden = false;
    const entry = this.metrics.get(m.metric) || this.create(m, ev.step);
    entry.rows.push(m);
    entry.chips.append(h('span', { class: `chip v-${m.verdict}`, title: [m.reason, m.error].filter(Boolean).join(' — ') || m.verdict },
      `#${m.index + 1} ${m.verdict}`));
    this.redraw(entry);
  }

  create(m, step) {
    const box = h('div', { class: 'chart-box' });
    const chips = h('div', { class: 'chips' });
    this.el.querySelector('.metric-list').append(h('div', { class: 'metric', 'data-metric': m.metric },
      h('h3', {}, m.metric, h('span', { class: 'muted' }, ` · ${m.judge}`)), box, chips));
    const entry = { rows: [], chips, baseline: false, step, metric: m.metric };
    entry.chart = new Chart(box, (width) => this.options(width, entry));
    this.metrics.set(m.metric, entry);
    return entry;
  }

  options(width, entry) {
    const series = [{}, { label: 'canary', stroke: css('--blue'), width: 2, points: { show: false } }];
    if (entry.baseline) series.push({ label: 'baseline', stroke: css('--green'), width: 2, dash: [6, 4], points: { show: false } });
    return {
      width, height, legend: { live: false }, cursor: { drag: { x: false, y: false } },
      axes: axes('value'), series,
      scales: { y: { range: (u, min, max) => this.range(entry, min, max) } },
      hooks: { draw: [(u) => this.lines(u, entry), (u) => this.marks(u, entry)] },
    };
  }

  // range keeps the thresholds in view with the data.
  range(entry, min, max) {
    const vals = [min, max, ...this.thresholds(entry.step, entry.metric).map((t) => t.value)].filter(Number.isFinite);
    if (!vals.length) return [0, 1];
    let lo = Math.min(...vals);
    let hi = Math.max(...vals);
    const pad = (hi - lo) * 0.1 || Math.abs(hi) * 0.1 || 1;
    lo = lo >= 0 && lo - pad < 0 ? 0 : lo - pad;
    hi += pad;
    return [lo, hi];
  }

  // lines draws each threshold as a dashed line in its verdict's colour.
  lines(u, entry) {
    const ctx = u.ctx;
    const { left, width } = u.bbox;
    for (const t of this.thresholds(entry.step, entry.metric)) {
      const y = u.valToPos(t.value, 'y', true);
      ctx.save();
      ctx.strokeStyle = css(t.kind === 'fail' ? '--bad' : '--ok');
      ctx.setLineDash([5 * devicePixelRatio, 4 * devicePixelRatio]);
      ctx.lineWidth = devicePixelRatio;
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(left + width, y);
      ctx.stroke();
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
    const canary = entry.rows.map((m) => num(m.canary?.value));
    const hadBaseline = entry.baseline;
    entry.baseline = entry.rows.some((m) => m.baseline);
    const data = [xs, canary];
    if (entry.baseline) data.push(entry.rows.map((m) => num(m.baseline?.value)));
    entry.chart.draw(data, hadBaseline !== entry.baseline);
  }

  /** redrawAll draws every chart again, e.g. once the thresholds are known. */
  redrawAll() {
    for (const e of this.metrics.values()) e.chart.draw(e.chart.data, true);
  }

  destroy() {
    for (const e of this.metrics.values()) e.chart.destroy();
  }
}
