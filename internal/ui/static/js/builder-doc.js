// builder-doc.js: the document the workflow and environment builders edit. It wraps a
// YAML Document (the vendored `yaml` package), so comments, key order and scalar
// styles survive edits made through forms, and the YAML tab and the forms always
// hold the same document.

import { parseDocument, isMap, isSeq, isScalar, isPair } from '/vendor/yaml-2.9.1/index.js';

/** redactedMask is what the server answers in place of a secret value. */
export const redactedMask = '[redacted]';

const stringifyOptions = { lineWidth: 0, flowCollectionPadding: false };

/** BuilderDoc is one YAML document being edited. */
export class BuilderDoc {
  /** constructor parses source; its text is kept to restore comment alignment. */
  constructor(source) {
    this.original = source || '';
    this.listeners = [];
    this.load(this.original);
  }

  /** load replaces the document with a newly parsed source (the YAML tab's text). */
  load(source) {
    this.doc = parseDocument(source || '', { keepSourceTokens: false });
    this.parseErrors = this.doc.errors.map((e) => ({ line: e.linePos?.[0]?.line || 0, column: e.linePos?.[0]?.col || 0, message: e.message.split('\n')[0] }));
    if (!this.doc.contents) this.doc.contents = this.doc.createNode({});
  }

  /** text is the document as YAML, with the original's comment alignment kept. */
  text() {
    return restoreSpacing(this.doc.toString(stringifyOptions), this.original);
  }

  /** onChange registers fn to be called after every edit. */
  onChange(fn) {
    this.listeners.push(fn);
  }

  changed() {
    for (const fn of this.listeners) fn();
  }

  /** get returns the plain value at path (undefined when absent). */
  get(path) {
    const v = this.doc.getIn(path, false);
    return isMap(v) || isSeq(v) ? v.toJSON() : v;
  }

  /** node returns the node at path. */
  node(path) {
    return this.doc.getIn(path, true);
  }

  /** has says whether path exists. */
  has(path) {
    return this.doc.hasIn(path);
  }

  /**
   * set writes a value at path: '' or undefined deletes the key; arrays become flow
   * sequences; an existing scalar keeps its node (and so its comment and style). A new
   * `name` key goes first in its map, as people read it first.
   */
  set(path, value) {
    if (value === '' || value === undefined || value === null || (Array.isArray(value) && !value.length && !this.has(path))) {
      if (this.has(path)) this.doc.deleteIn(path);
      this.changed();
      return;
    }
    const parentPath = path.slice(0, -1);
    const key = path.at(-1);
    this.ensureMap(parentPath);
    const parent = this.node(parentPath) ?? this.doc.contents;
    const prev = isMap(parent) ? parent.get(key, true) : isSeq(parent) ? parent.get(key, true) : undefined;
    if (isScalar(prev) && !Array.isArray(value) && typeof value !== 'object') {
      prev.value = value;
      if (String(prev.type).startsWith('BLOCK') && !String(value).includes('\n')) prev.type = undefined;
    } else if (isMap(parent) && prev === undefined) {
      if (parent.flow && !parent.items.length) parent.flow = false;
      const pair = this.doc.createPair(key, this.make(value));
      if (key === 'name') parent.items.unshift(pair);
      else parent.items.push(pair);
    } else {
      parent.set(key, this.make(value));
    }
    this.changed();
  }

  // make turns a value into a node: lists in flow style ([a, b]), empty maps as {}.
  make(value) {
    if (Array.isArray(value)) return this.doc.createNode(value, { flow: true });
    const n = this.doc.createNode(value);
    if (isMap(n) && !n.items.length) n.flow = true;
    return n;
  }

  // ensureMap makes every missing map on the way to path.
  ensureMap(path) {
    let cur = this.doc.contents;
    for (const k of path) {
      let next = cur.get(k, true);
      if (next === undefined || (isScalar(next) && (next.value === null || next.value === ''))) {
        if (isMap(cur) && cur.flow && !cur.items.length) cur.flow = false;
        next = this.doc.createNode({});
        cur.set(k, next);
      }
      cur = next;
    }
  }

  /** replace puts value at path whatever was there (a scalar shorthand becomes a map). */
  replace(path, value) {
    const parent = path.length > 1 ? this.node(path.slice(0, -1)) : this.doc.contents;
    parent.set(path.at(-1), this.make(value));
    this.changed();
  }

  /** add appends an item (a plain value) to the sequence at path, making it if needed. */
  add(path, item) {
    let seq = this.node(path);
    if (!isSeq(seq)) {
      this.ensureMap(path.slice(0, -1));
      seq = this.doc.createNode([]);
      const parent = path.length > 1 ? this.node(path.slice(0, -1)) : this.doc.contents;
      parent.set(path.at(-1), seq);
    }
    if (seq.flow && item && typeof item === 'object') seq.flow = false;
    const holder = this.node(path.slice(0, -1));
    if (isMap(holder) && holder.flow) holder.flow = false;
    const n = this.doc.createNode(item);
    if (isMap(n) && !n.items.length) n.flow = true;
    seq.items.push(n);
    this.changed();
    return seq.items.length - 1;
  }

  /** remove deletes the item or key at path. */
  remove(path) {
    this.doc.deleteIn(path);
    const parent = path.slice(0, -1);
    if (parent.length && isSeq(this.node(parent)) && !this.length(parent)) this.doc.deleteIn(parent); // no `logs: []` left
    this.changed();
  }

  /** move moves item from of the sequence at path to index to, comments and all. */
  move(path, from, to) {
    const seq = this.node(path);
    if (!isSeq(seq) || to < 0 || to >= seq.items.length || from === to) return false;
    const [it] = seq.items.splice(from, 1);
    seq.items.splice(to, 0, it);
    this.changed();
    return true;
  }

  /** length is the number of items of the sequence at path (0 when absent). */
  length(path) {
    const seq = this.node(path);
    return isSeq(seq) ? seq.items.length : 0;
  }

  /** keys lists the keys of the map at path. */
  keys(path) {
    const m = path.length ? this.node(path) : this.doc.contents;
    return isMap(m) ? m.items.filter(isPair).map((p) => (isScalar(p.key) ? p.key.value : String(p.key))) : [];
  }

  /** isMapAt says whether the node at path is a map. */
  isMapAt(path) {
    return isMap(this.node(path));
  }
}

/**
 * redactedAt returns the line and column of the first redacted placeholder in text,
 * or null: a document holding one must never be saved, or the placeholder would
 * replace the real value.
 */
export function redactedAt(text) {
  const i = text.indexOf(redactedMask);
  if (i < 0) return null;
  const before = text.slice(0, i).split('\n');
  return { line: before.length, column: before.at(-1).length + 1 };
}

/** pathKey is the data-path of a path: spec.phases.0.steps.1. */
export function pathKey(path) {
  return path.join('.');
}

/** serverPath turns a problem's path (spec.phases[1].steps[0]) into a data-path. */
export function serverPath(p) {
  return String(p || '').replace(/\[(\d+)\]/g, '.$1');
}

// restoreSpacing puts back the spaces people put before end-of-line comments (the
// stringifier writes one): an output line that equals an original line but for that
// spacing becomes the original line again.
export function restoreSpacing(out, original) {
  const orig = new Map();
  for (const line of original.split('\n')) {
    const k = squeeze(line);
    if (k !== line && !orig.has(k)) orig.set(k, line);
  }
  if (!orig.size) return out;
  return out.split('\n').map((l) => orig.get(l) ?? l).join('\n');
}

// squeeze writes one space before a comment that is not inside quotes.
function squeeze(line) {
  const m = line.match(/^(.*?\S)[ \t]{2,}(#.*)$/);
  if (!m) return line;
  const quotes = (m[1].match(/"/g) || []).length + (m[1].match(/'/g) || []).length;
  return quotes % 2 ? line : `${m[1]} ${m[2]}`;
}
