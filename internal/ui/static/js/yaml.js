// yaml.js: reads the parts of workflow and environment sources the UI shows. The
// server validates documents; this only lays them out for people.

import { load } from '/vendor/js-yaml-4.1.0.mjs';

const stepTypes = ['deploy', 'service', 'traffic', 'verify', 'loadtest', 'approval', 'wait', 'webhook', 'promote', 'scaledown'];

/** parseDoc parses one YAML document, returning null when it cannot. */
export function parseDoc(source) {
  try {
    const doc = load(source || '');
    return doc && typeof doc === 'object' ? doc : null;
  } catch {
    return null;
  }
}

/** workflowModel returns a workflow's variables and phases with typed steps. */
export function workflowModel(source) {
  const doc = parseDoc(source);
  const spec = (doc && doc.spec) || {};
  const phases = (Array.isArray(spec.phases) ? spec.phases : []).map((ph) => ({
    name: String(ph?.name ?? ''),
    onFailure: ph?.onFailure,
    steps: (Array.isArray(ph?.steps) ? ph.steps : []).map(stepModel),
  }));
  return {
    name: doc?.metadata?.name || '',
    description: doc?.metadata?.description || '',
    environment: spec.environment,
    service: spec.service || {},
    onFailure: spec.onFailure,
    variables: (Array.isArray(spec.variables) ? spec.variables : []).filter((v) => v && v.name),
    phases,
  };
}

function stepModel(s) {
  const type = stepTypes.find((t) => s && Object.hasOwn(s, t)) || 'unknown';
  const body = s ? s[type] : undefined;
  return { name: s?.name ? String(s.name) : type, type, body, onFailure: s?.onFailure, summary: summary(type, body) };
}

// summary says in a few words what a step does.
function summary(type, b) {
  const o = b && typeof b === 'object' ? b : {};
  switch (type) {
    case 'traffic': return `new slot gets ${typeof b === 'object' ? o.weight ?? '' : b}`;
    case 'wait': return `wait ${b}`;
    case 'deploy': return o.instances ? `${o.instances} of live instances` : 'deploy the new artifact';
    case 'approval': return o.approvers ? `approvers: ${[].concat(o.approvers).join(', ')}` : 'manual approval';
    case 'verify': return [...(o.metrics || []), ...(o.logs || [])].map((m) => m.name).join(', ') || 'verification';
    case 'loadtest': return [o.rate && `${o.rate} req/s`, o.duration, o.target && `on ${o.target}`].filter(Boolean).join(' · ');
    case 'scaledown': return [o.slot && `${o.slot} slot`, o.delay && `after ${o.delay}`].filter(Boolean).join(' ') || 'scale down';
    case 'webhook': return o.url || '';
    case 'service': return (o.hosts || []).join(', ');
    case 'promote': return 'new slot becomes live';
    default: return '';
  }
}

/** substitute fills ${name} references with values, as the engine does. */
export function substitute(text, values) {
  return String(text ?? '').replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (m, n) => (values && n in values ? values[n] : m));
}

/** environmentModel returns an environment's platform, router and providers. */
export function environmentModel(source) {
  const spec = parseDoc(source)?.spec || {};
  const part = (p) => ({ type: p?.type || '?', settings: (p && p[p.type]) || {} });
  return {
    platform: part(spec.platform),
    router: part(spec.router),
    providers: (Array.isArray(spec.providers) ? spec.providers : []).map((p) => ({ name: p?.name, type: p?.type, url: p?.url })),
  };
}

/** thresholds reads the numbers a verify metric's conditions compare the result with
 * ("result > 0.01"), to draw them on its chart; kind is "fail" or "ok". */
export function thresholds(step, metric) {
  const m = (step?.body?.metrics || []).find((x) => x && x.name === metric);
  const out = [];
  for (const [key, kind] of [['failureCondition', 'fail'], ['successCondition', 'ok']]) {
    const re = /result\s*(?:<=|>=|<|>)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)/g;
    for (const hit of String(m?.[key] ?? '').matchAll(re)) out.push({ value: Number(hit[1]), kind });
  }
  return out;
}
