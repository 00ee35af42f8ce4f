// builder-schema.js: which fields the builder offers for each part of a workflow and
// an environment (internal/spec/types.go and docs/workflows.md are the reference).

import { f } from './builder-fields.js';

const slots = ['', 'new', 'live', 'old'];
const judges = ['', 'threshold', 'mannwhitney', 'sequential'];
const directions = ['', 'increase', 'decrease', 'either'];

/** stepTypes are the kinds of step, in the order the "Add step" menu lists them. */
export const stepTypes = ['service', 'deploy', 'traffic', 'loadtest', 'verify', 'approval', 'wait', 'webhook', 'promote', 'scaledown'];

/** stepLabels names each step type for people. */
export const stepLabels = {
  service: 'Service setup', deploy: 'Deploy (upgrade containers)', traffic: 'Traffic split', loadtest: 'Load test',
  verify: 'Verify metrics and logs', approval: 'Approval', wait: 'Wait', webhook: 'Webhook', promote: 'Promote', scaledown: 'Scale down',
};

/** newStep is what "Add step" puts in the document for each type. */
export const newStep = {
  service: {}, deploy: { instances: '100%' }, traffic: '0%', loadtest: { duration: '1m' }, verify: {},
  approval: { approvers: [] }, wait: '1m', webhook: { url: '' }, promote: {}, scaledown: {},
};

/** scalarSteps are written as one value (traffic: 10%, wait: 5m) unless given as a map. */
export const scalarSteps = { traffic: f('weight', 'percent', 'Traffic to the new slot (%)'), wait: f('duration', 'text', 'Wait for (e.g. 30s, 5m)') };

/** stepFields are each step type's fields (traffic and wait also have a scalar form). */
export const stepFields = {
  service: [
    f('type', 'select', 'Service type', { options: ['', 'ClusterIP', 'LoadBalancer', 'NodePort'], help: 'Empty: the environment’s serviceType.' }),
    f('hosts', 'list', 'Hosts (comma-separated)', { help: 'Istio VirtualService hosts / Gateway API hostnames.' }),
    f('gateway', 'text', 'Ingress gateway (Istio Gateway or Gateway API Gateway)'),
    f('sticky', 'bool', 'Sticky sessions (builtin router)', { advanced: true, at: ['routing', 'sticky'] }),
  ],
  deploy: [
    f('instances', 'percent', 'Instances (a count, or % of the live slot’s)'),
    f('slot', 'select', 'Slot', { options: slots, advanced: true }),
    f('artifact', 'text', 'Artifact (default: the service’s)', { advanced: true }),
  ],
  traffic: [f('weight', 'percent', 'Traffic to the new slot (%)')],
  loadtest: [
    f('target', 'select', 'Target slot', { options: slots }),
    f('path', 'text', 'Path'),
    f('rate', 'int', 'Rate (requests/s)'),
    f('concurrency', 'int', 'Concurrency'),
    f('duration', 'text', 'Duration'),
    f('maxErrorRate', 'percent', 'Max error rate (%)'),
    f('maxP99', 'text', 'Max p99 latency'),
    f('method', 'text', 'Method', { advanced: true }),
    f('url', 'text', 'URL instead of the target slot', { advanced: true }),
    f('headers', 'kv', 'Headers', { advanced: true, item: 'header' }),
  ],
  verify: [
    f('initialDelay', 'text', 'Initial delay'),
    f('interval', 'text', 'Interval'),
    f('count', 'int', 'Measurements'),
    f('duration', 'text', 'Duration (instead of count)', { advanced: true }),
    f('window', 'text', 'Window', { advanced: true }),
    f('onProviderError', 'select', 'On provider error', { options: ['', 'fail', 'inconclusive', 'ignore'], advanced: true }),
    f('direction', 'select', 'Direction', { options: directions, advanced: true }),
    f('confidence', 'num', 'Confidence', { advanced: true }),
    f('effectSize', 'num', 'Effect size', { advanced: true }),
    f('alpha', 'num', 'Alpha', { advanced: true }),
  ],
  approval: [
    f('message', 'text', 'Message'),
    f('approvers', 'list', 'Approvers (names or group:NAME, comma-separated)'),
    f('required', 'int', 'Approvals required'),
    f('timeout', 'text', 'Timeout'),
    f('onTimeout', 'select', 'On timeout', { options: ['', 'rollback', 'continue', 'fail'] }),
    f('forbidSelfApproval', 'bool', 'The person who started the run may not approve'),
  ],
  wait: [f('duration', 'text', 'Wait for')],
  webhook: [
    f('url', 'text', 'URL'),
    f('method', 'text', 'Method (default POST)'),
    f('body', 'textarea', 'Body'),
    f('expectStatus', 'intlist', 'Expected statuses (comma-separated)'),
    f('condition', 'text', 'Condition on the answer'),
    f('headers', 'kv', 'Headers', { item: 'header' }),
  ],
  promote: [],
  scaledown: [
    f('slot', 'select', 'Slot', { options: slots }),
    f('delay', 'text', 'Delay (keeps an instant switch back possible)'),
  ],
};

/** metricFields are a verify step's metric check fields. */
export const metricFields = [
  f('name', 'text', 'Name'),
  f('provider', 'text', 'Provider', { list: 'b-providers', help: 'One of the environment’s providers.' }),
  f('query', 'textarea', 'Query ({{slot}} is the slot measured)'),
  f('title', 'text', 'Title'),
  f('unit', 'text', 'Unit'),
  f('failureCondition', 'text', 'Failure condition (e.g. result > 0.01)'),
  f('successCondition', 'text', 'Success condition'),
  f('failureLimit', 'int', 'Failure limit'),
  f('inconclusiveLimit', 'int', 'Inconclusive limit', { advanced: true }),
  f('consecutiveErrorLimit', 'int', 'Consecutive error limit', { advanced: true }),
  f('judge', 'select', 'Judge', { options: judges, advanced: true }),
  f('baseline', 'bool', 'Compare with the live slot (baseline)', { advanced: true }),
  f('noData', 'select', 'No data is', { options: ['', 'inconclusive', 'failed', 'successful'], advanced: true }),
  f('window', 'text', 'Window', { advanced: true }),
  f('direction', 'select', 'Direction', { options: directions, advanced: true }),
  f('confidence', 'num', 'Confidence', { advanced: true }),
  f('effectSize', 'num', 'Effect size', { advanced: true }),
  f('alpha', 'num', 'Alpha', { advanced: true }),
  f('minRequests', 'int', 'Min requests', { advanced: true }),
  f('minSamples', 'int', 'Min samples', { advanced: true }),
  f('critical', 'bool', 'Critical', { advanced: true }),
  f('group', 'text', 'Group', { advanced: true }),
  f('weight', 'num', 'Weight', { advanced: true }),
  f('total', 'text', 'Total query', { advanced: true }),
  f('counts', 'text', 'Counts query', { advanced: true }),
];

/** logFields are a verify step's log check fields. */
export const logFields = [
  f('name', 'text', 'Name'),
  f('provider', 'text', 'Provider', { list: 'b-providers', help: 'One of the environment’s providers.' }),
  f('query', 'textarea', 'Query'),
  f('maxMatches', 'int', 'Max matches'),
  f('judge', 'select', 'Judge', { options: judges, advanced: true }),
  f('baseline', 'bool', 'Compare with the live slot (baseline)', { advanced: true }),
];

/** variableFields are a workflow variable's fields. */
export const variableFields = [
  f('name', 'text', 'Name'),
  f('type', 'select', 'Type', { options: ['string', 'int', 'duration', 'percent', 'enum', 'bool'] }),
  f('required', 'bool', 'Required'),
  f('values', 'list', 'Values (enum, comma-separated)'),
  f('default', 'text', 'Default'),
  f('description', 'text', 'Description'),
];

/** serviceFields are the workflow's service. */
export const serviceFields = [
  f('name', 'text', 'Service name'),
  f('port', 'int', 'Port'),
  f('artifact', 'text', 'Artifact (e.g. ${artifact})'),
  f('instances', 'int', 'Instances'),
  f('container', 'text', 'Container', { advanced: true }),
  f('env', 'kv', 'Environment variables', { advanced: true, item: 'variable' }),
];

/** healthFields are the service's health check. */
export const healthFields = [
  f('path', 'text', 'Health path (empty: TCP connect)'),
  f('status', 'int', 'Expected status'),
  f('timeout', 'text', 'Health timeout'),
];

/** platformTypes, routerTypes and providerTypes are what an environment may use. */
export const platformTypes = ['local', 'kubernetes'];
export const routerTypes = ['builtin', 'istio', 'gatewayapi'];
export const providerTypes = ['builtin', 'prometheus', 'newrelic', 'datadog', 'sumologic', 'loki', 'victorialogs', 'http'];

/** platformFields are each platform type's settings. */
export const platformFields = {
  local: [
    f('stopGrace', 'text', 'Stop grace'),
    f('user', 'text', 'Run instances as user'),
    f('workDir', 'text', 'Work directory', { advanced: true }),
  ],
  kubernetes: [
    f('namespace', 'text', 'Namespace'),
    f('serviceType', 'select', 'Service type', { options: ['', 'ClusterIP', 'LoadBalancer', 'NodePort'] }),
    f('kubeconfig', 'text', 'Kubeconfig (empty: in-cluster)', { advanced: true }),
    f('context', 'text', 'Context', { advanced: true }),
    f('slotURL', 'text', 'Slot URL (when sluice runs outside the cluster)', { advanced: true }),
  ],
};

/** routerFields are each router type's settings. */
export const routerFields = {
  builtin: [
    f('listen', 'text', 'Listen address'),
    f('admin', 'text', 'Admin address'),
    f('mode', 'text', 'Mode', { advanced: true }),
    f('process', 'text', 'Process', { advanced: true }),
  ],
  istio: [
    f('namespace', 'text', 'Namespace'),
    f('gateway', 'text', 'Gateway'),
    f('hosts', 'list', 'Hosts (comma-separated)'),
    f('virtualService', 'text', 'Adopt VirtualService', { advanced: true }),
    f('route', 'text', 'Route', { advanced: true }),
    f('protocol', 'select', 'Protocol', { options: ['', 'http', 'tcp', 'tls'], advanced: true }),
    f('split', 'text', 'Split', { advanced: true }),
  ],
  gatewayapi: [
    f('namespace', 'text', 'Namespace'),
    f('gateway', 'text', 'Gateway'),
    f('hostnames', 'list', 'Hostnames (comma-separated)'),
    f('httpRoute', 'text', 'Adopt HTTPRoute', { advanced: true }),
    f('rule', 'text', 'Rule', { advanced: true }),
  ],
};

/** commandFields are a local platform command's fields. */
export const commandFields = [
  f('name', 'text', 'Command name'),
  f('executable', 'text', 'Executable'),
  f('args', 'list', 'Arguments (comma-separated)'),
];

/** providerFields are a provider's fields (credentials have their own editor). */
export const providerFields = [
  f('name', 'text', 'Provider name'),
  f('type', 'select', 'Type', { options: providerTypes }),
  f('url', 'text', 'URL'),
  f('settings', 'kv', 'Settings (accountId, region, site…)', { item: 'setting' }),
];
