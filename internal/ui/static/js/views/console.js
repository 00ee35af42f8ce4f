// console.js: the live console: every event line in order, a step filter, search,
// auto-scroll that stops when the reader scrolls up, and download.

import { h, replace, fmtClock } from '../dom.js';

/** Console shows an execution's event lines. */
export class Console {
  constructor(el, id) {
    this.id = id;
    this.step = null;
    this.query = '';
    this.follow = true;
    this.lastTop = 0;
    this.unseen = 0;
    this.lines = [];
    this.build(el);
  }

  build(el) {
    this.title = h('span', { class: 'con-title' }, 'Console · all steps');
    this.allBtn = h('button', { type: 'button', class: 'btn btn-small', hidden: true, onclick: () => this.onAll() }, 'All steps');
    this.search = h('input', { type: 'search', class: 'con-search', placeholder: 'Search', 'aria-label': 'Search the console' });
    this.search.addEventListener('input', () => { this.query = this.search.value.toLowerCase(); this.applyAll(); });
    this.count = h('span', { class: 'con-count muted' });
    this.state = h('span', { class: 'con-state', 'data-state': 'connecting' }, 'connecting');
    this.body = h('div', { class: 'con-body', id: 'console-lines', role: 'log', 'aria-live': 'off', tabindex: 0 });
    this.body.addEventListener('scroll', () => this.onScroll());
    // A resize (rotation, window, theme fonts) keeps a following console at the bottom.
    new ResizeObserver(() => { if (this.follow) this.stick(); }).observe(this.body);
    this.jump = h('button', { type: 'button', class: 'con-jump', hidden: true, onclick: () => this.toBottom() }, 'new lines ↓');
    replace(el, h('div', { class: 'con-bar' }, this.title, this.allBtn, h('span', { class: 'spacer' }), this.state),
      h('div', { class: 'con-bar con-tools' }, this.search, this.count,
        h('button', { type: 'button', class: 'btn btn-small', onclick: () => this.download() }, 'Download')),
      h('div', { class: 'con-frame' }, this.body, this.jump));
  }

  /** onAll is replaced by the view to clear the step selection. */
  onAll() {}

  /** add appends one event as a line. */
  add(ev) {
    const line = h('div', { class: `ln lv-${ev.level || 'info'} ty-${ev.type}`, 'data-seq': ev.seq, 'data-step': ev.step || '' },
      h('span', { class: 'ln-t' }, fmtClock(ev.at)),
      h('span', { class: 'ln-k' }, ev.step || '—'),
      h('span', { class: 'ln-m' }, ev.message || ev.type));
    line.hidden = !this.visible(line);
    this.lines.push(line);
    this.body.append(line);
    if (!line.hidden && !this.follow) this.unseen++;
    this.scheduleScroll();
  }

  visible(line) {
    if (this.step && line.dataset.step !== this.step) return false;
    return !this.query || line.textContent.toLowerCase().includes(this.query);
  }

  applyAll() {
    let n = 0;
    for (const l of this.lines) { l.hidden = !this.visible(l); if (!l.hidden) n++; }
    this.count.textContent = this.query ? `${n} match${n === 1 ? '' : 'es'}` : '';
    this.toBottom();
  }

  /** setStep shows only one step's lines (null: all). */
  setStep(key, name) {
    this.step = key;
    this.title.textContent = key ? `Console · ${name} (${key})` : 'Console · all steps';
    this.allBtn.hidden = !key;
    this.applyAll();
  }

  /** setState shows whether the stream is live, reconnecting or ended. */
  setState(s) {
    this.state.dataset.state = s;
    this.state.textContent = { live: 'live', reconnecting: 'reconnecting…', ended: 'ended' }[s] || s;
  }

  // onScroll stops following when the reader scrolls up and resumes at the bottom.
  // Scroll events arrive a frame late, after more lines may have been appended, so
  // "up" means above where we last put it, not "away from the bottom".
  onScroll() {
    const b = this.body;
    if (b.scrollHeight - b.scrollTop - b.clientHeight < 24) this.follow = true;
    else if (b.scrollTop < this.lastTop - 4) this.follow = false;
    this.lastTop = b.scrollTop;
    if (this.follow) { this.unseen = 0; this.jump.hidden = true; }
  }

  stick() {
    this.body.scrollTop = this.body.scrollHeight;
    this.lastTop = this.body.scrollTop;
  }

  scheduleScroll() {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => {
      this.raf = 0;
      if (this.follow) this.stick();
      else if (this.unseen) { this.jump.hidden = false; this.jump.textContent = `${this.unseen} new ↓`; }
    });
  }

  toBottom() {
    this.follow = true;
    this.unseen = 0;
    this.jump.hidden = true;
    this.stick();
  }

  download() {
    const text = this.lines.map((l) => [l.dataset.seq, ...[...l.children].map((c) => c.textContent)].join('\t')).join('\n') + '\n';
    const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
    const a = h('a', { href: url, download: `sluice-${this.id}-console.txt` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }
}
