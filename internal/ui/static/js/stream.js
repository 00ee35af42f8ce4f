// stream.js: an execution's (or a pipeline run's) events over Server-Sent Events,
// resumed after any drop.
//
// EventSource reconnects by itself and sends Last-Event-ID; when it gives up (an HTTP
// error, a proxy answering something else) we open a new one with ?after=<last seq>.
// Every event is delivered once, in order: anything at or below the last seq seen is
// dropped, so a replay after a reconnect never duplicates a console line.

/** EventStream follows one execution's (or pipeline run's) events until its `end` event. */
export class EventStream {
  constructor(url, { onEvent, onEnd, onState }) {
    this.url = url;
    this.onEvent = onEvent;
    this.onEnd = onEnd || (() => {});
    this.onState = onState || (() => {});
    this.lastSeq = 0;
    this.es = null;
    this.timer = null;
    this.closed = false;
    this.failures = 0;
    // A stream refused for want of a session retries at once after sign-in.
    this.onSignedIn = () => {
      if (this.closed || (this.es && this.es.readyState !== EventSource.CLOSED)) return;
      clearTimeout(this.timer);
      this.failures = 0;
      this.open();
    };
    window.addEventListener('sluice-signed-in', this.onSignedIn);
  }

  /** start opens the stream from the beginning (or the last seq seen). */
  start() {
    this.open();
    return this;
  }

  open() {
    if (this.closed) return;
    const es = new EventSource(`${this.url}?after=${this.lastSeq}`);
    this.es = es;
    es.addEventListener('open', () => { this.failures = 0; this.onState('live'); });
    es.addEventListener('message', (e) => this.message(e));
    es.addEventListener('end', (e) => this.end(e));
    es.addEventListener('error', () => this.dropped(es));
  }

  message(e) {
    let ev;
    try { ev = JSON.parse(e.data); } catch { return; }
    if (!ev || typeof ev.seq !== 'number' || ev.seq <= this.lastSeq) return;
    this.lastSeq = ev.seq;
    this.onEvent(ev);
  }

  end(e) {
    let info = {};
    try { info = JSON.parse(e.data); } catch { /* keep empty */ }
    this.close();
    this.onState('ended');
    this.onEnd(info);
  }

  // dropped runs on a lost connection or a server-sent `error` event. EventSource
  // retries on its own while CONNECTING; once CLOSED we reopen with backoff.
  dropped(es) {
    if (this.closed || es !== this.es) return;
    this.onState('reconnecting');
    if (es.readyState !== EventSource.CLOSED) return;
    es.close();
    this.failures++;
    const delay = Math.min(15000, 500 * 2 ** Math.min(this.failures, 5));
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), delay);
  }

  /** close stops following; no reconnect happens after it. */
  close() {
    this.closed = true;
    window.removeEventListener('sluice-signed-in', this.onSignedIn);
    clearTimeout(this.timer);
    if (this.es) this.es.close();
  }
}
