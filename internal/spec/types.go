package spec

import (
	"fmt"
	"time"
)

// APIVersion is the only document version this build understands.
const APIVersion = "sluice.dev/v1alpha1"

// Document kinds.
const (
	KindWorkflow    = "Workflow"
	KindEnvironment = "Environment"
)

// Metadata names a document.
type Metadata struct {
	Name        string            `yaml:"name"`
	Description string            `yaml:"description,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
}

// Workflow is a template of phases and steps that sluice runs as executions.
type Workflow struct {
	APIVersion string       `yaml:"apiVersion"`
	Kind       string       `yaml:"kind"`
	Metadata   Metadata     `yaml:"metadata"`
	Spec       WorkflowSpec `yaml:"spec"`

	// src is the document's YAML, kept so Instantiate can substitute and decode again
	// with positions that point into the original file.
	src   []byte
	file  string
	line0 int // lines of the file before this document
	// templated is true when the variables hold their defaults or placeholders (a
	// template checked as such) and the artifact names one of them, so its value says
	// nothing about what a run will deploy.
	templated bool
}

// WorkflowSpec is the body of a Workflow.
type WorkflowSpec struct {
	// Environment names the Environment document the workflow deploys to; may use ${var}.
	Environment string     `yaml:"environment"`
	Variables   []Variable `yaml:"variables,omitempty"`
	Service     Service    `yaml:"service"`
	// OnFailure is the workflow-wide failure strategy; the default is rollback.
	OnFailure *Failure `yaml:"onFailure,omitempty"`
	// Analysis is continuous verification of the whole workflow: from the first
	// moment the new slot has traffic to the end of the last phase.
	Analysis *Analysis `yaml:"analysis,omitempty"`
	Phases   []Phase   `yaml:"phases"`
	// Rollback replaces the default rollback (100% to the live slot, then scale the new
	// slot down) when set.
	Rollback []Step `yaml:"rollback,omitempty"`
	// Triggers start runs of the workflow from signed webhooks (trigger.go).
	Triggers []Trigger `yaml:"triggers,omitempty"`
}

// VarType is the type of a workflow variable.
type VarType string

// Variable types.
const (
	VarString   VarType = "string"
	VarInt      VarType = "int"
	VarDuration VarType = "duration"
	VarPercent  VarType = "percent"
	VarEnum     VarType = "enum"
	VarBool     VarType = "bool"
)

// Variable is a typed template parameter referenced as ${name}.
type Variable struct {
	Name        string  `yaml:"name"`
	Type        VarType `yaml:"type"`
	Description string  `yaml:"description,omitempty"`
	// Default is used when no value is given; nil means no default.
	Default  *string  `yaml:"default,omitempty"`
	Required bool     `yaml:"required,omitempty"`
	Values   []string `yaml:"values,omitempty"` // allowed values of an enum
	Pos      Pos      `yaml:"-"`
}

// Service is the application the workflow releases.
type Service struct {
	Name string `yaml:"name"`
	Port int    `yaml:"port"`
	// Artifact is what runs: an image for kubernetes; for the local platform the name of
	// one of the environment's local.commands, NAME or NAME:VERSION, or an absolute path
	// that a command's executable glob allows. Never a command line.
	Artifact string `yaml:"artifact"`
	// Instances is the count used when no slot is live yet (the first release); default 1.
	Instances int          `yaml:"instances,omitempty"`
	Health    *HealthCheck `yaml:"health,omitempty"`
	// Env is the environment of every instance, beside the platform's own variables.
	Env map[string]EnvValue `yaml:"env,omitempty"`

	// WorkloadRef, Template and Manifests name the team's own workload, whose pod
	// template the slots run with the artifact as the image (kubernetes; at most one of
	// the three). See workload.go.
	WorkloadRef *WorkloadRef `yaml:"workloadRef,omitempty"`
	Template    Object       `yaml:"template,omitempty"`
	Manifests   string       `yaml:"manifests,omitempty"`
	// Container names the container of the workload that runs the artifact; default
	// the first.
	Container string `yaml:"container,omitempty"`
}

// EnvValue is one environment variable of a service's instances. In YAML it is a bare
// value (`LOG_LEVEL: debug`) or a mapping `{value: ..., secret: true}`; a secret value
// is masked in everything the instances print, before it is stored or streamed.
type EnvValue struct {
	Value  string `yaml:"value"`
	Secret bool   `yaml:"secret,omitempty"`
}

// EnvValues returns the plain values of env, by name.
func EnvValues(env map[string]EnvValue) map[string]string {
	if env == nil {
		return nil
	}
	out := make(map[string]string, len(env))
	for k, v := range env {
		out[k] = v.Value
	}
	return out
}

// SecretEnvValues returns the values of env marked secret, in name order.
func SecretEnvValues(env map[string]EnvValue) []string {
	var out []string
	for _, k := range sortedKeys(env) {
		if env[k].Secret && env[k].Value != "" {
			out = append(out, env[k].Value)
		}
	}
	return out
}

// HealthCheck says when an instance is ready.
type HealthCheck struct {
	Path    string   `yaml:"path,omitempty"`   // HTTP GET path; empty means TCP connect
	Status  int      `yaml:"status,omitempty"` // expected status; default 200
	Timeout Duration `yaml:"timeout,omitempty"`
}

// FailureAction is what happens when a step fails.
type FailureAction string

// Failure actions.
const (
	ActionRollback FailureAction = "rollback"
	ActionPause    FailureAction = "pause"
	ActionRetry    FailureAction = "retry"
	ActionIgnore   FailureAction = "ignore"
	ActionFail     FailureAction = "fail"
)

// Failure is a failure strategy. In YAML it is either a bare action
// (`onFailure: rollback`) or a mapping.
type Failure struct {
	Action  FailureAction `yaml:"action"`
	Retries int           `yaml:"retries,omitempty"` // for retry: attempts after the first
	Backoff Duration      `yaml:"backoff,omitempty"` // for retry: first delay, doubled each time
	// Then is what happens when retries are exhausted: rollback (default), pause, ignore or fail.
	Then FailureAction `yaml:"then,omitempty"`
	Pos  Pos           `yaml:"-"`
}

// Phase is an ordered group of steps, such as one canary phase.
type Phase struct {
	Name      string   `yaml:"name"`
	Steps     []Step   `yaml:"steps"`
	OnFailure *Failure `yaml:"onFailure,omitempty"`
	// Analysis is continuous verification of this phase: from the moment the new
	// slot has traffic in it (its first traffic step, or its start when an earlier
	// phase already sent some) to its end, whatever step is running.
	Analysis *Analysis `yaml:"analysis,omitempty"`
	Pos      Pos       `yaml:"-"`
}

// Analysis is continuous (background) verification: the metrics and log checks
// of a verify step, measured from the moment the new slot has traffic until the
// phase or workflow that declares them ends. The first Failed (or Error) verdict
// rolls the execution back at once, whatever step is running; an Inconclusive one
// pauses it for a person.
type Analysis struct {
	// Interval is the time between measurements of threshold and mannwhitney
	// metrics and log checks (default 30 s); sequential metrics are evaluated
	// every second.
	Interval Duration      `yaml:"interval,omitempty"`
	Metrics  []MetricCheck `yaml:"metrics,omitempty"`
	Logs     []LogCheck    `yaml:"logs,omitempty"`
	// AfterPromotion keeps the analysis running this long after a promote step
	// of its phase (or workflow): the execution ends only after the watch, and a
	// failure during it rolls back to the old slot.
	AfterPromotion Duration `yaml:"afterPromotion,omitempty"`

	// Window, Direction, Confidence, EffectSize and Alpha are the judges'
	// parameters for metrics that do not set their own, as on a verify step.
	Window     Duration `yaml:"window,omitempty"`
	Direction  string   `yaml:"direction,omitempty"`
	Confidence Ratio    `yaml:"confidence,omitempty"`
	EffectSize *Ratio   `yaml:"effectSize,omitempty"`
	Alpha      Ratio    `yaml:"alpha,omitempty"`
}

// AnalysisSpan is how long a background analysis is scheduled for; it ends
// before that with its phase or workflow.
const AnalysisSpan = Duration(30 * 24 * time.Hour)

// VerifyStep is the analysis as the verify step that the engine runs in the
// background, scheduled for AnalysisSpan.
func (a *Analysis) VerifyStep() *VerifyStep {
	return &VerifyStep{
		Interval: a.Interval, Duration: AnalysisSpan, Metrics: a.Metrics, Logs: a.Logs,
		Window: a.Window, Direction: a.Direction, Confidence: a.Confidence, EffectSize: a.EffectSize, Alpha: a.Alpha,
	}
}

// StepType names what a step does.
type StepType string

// Step types.
const (
	StepDeploy    StepType = "deploy"
	StepService   StepType = "service"
	StepTraffic   StepType = "traffic"
	StepVerify    StepType = "verify"
	StepLoadTest  StepType = "loadtest"
	StepApproval  StepType = "approval"
	StepWait      StepType = "wait"
	StepWebhook   StepType = "webhook"
	StepPromote   StepType = "promote"
	StepScaleDown StepType = "scaledown"
)

// Step is one unit of work. Exactly one of the type blocks is set.
type Step struct {
	Name      string   `yaml:"name,omitempty"`
	OnFailure *Failure `yaml:"onFailure,omitempty"`
	Timeout   Duration `yaml:"timeout,omitempty"`

	Deploy    *DeployStep    `yaml:"deploy,omitempty"`
	Service   *ServiceStep   `yaml:"service,omitempty"`
	Traffic   *TrafficStep   `yaml:"traffic,omitempty"`
	Verify    *VerifyStep    `yaml:"verify,omitempty"`
	LoadTest  *LoadTestStep  `yaml:"loadtest,omitempty"`
	Approval  *ApprovalStep  `yaml:"approval,omitempty"`
	Wait      *WaitStep      `yaml:"wait,omitempty"`
	Webhook   *WebhookStep   `yaml:"webhook,omitempty"`
	Promote   *PromoteStep   `yaml:"promote,omitempty"`
	ScaleDown *ScaleDownStep `yaml:"scaledown,omitempty"`

	Pos Pos `yaml:"-"`
}

// SlotRole picks a slot by its role in the execution rather than by colour.
type SlotRole string

// Slot roles. "new" is the idle slot being staged (blue in the seed's words), "live" is
// the slot serving users now (green). After a promote step, "old" is the slot that was
// live before it.
const (
	RoleNew  SlotRole = "new"
	RoleLive SlotRole = "live"
	RoleOld  SlotRole = "old"
)

// Quantity is an instance count or a percentage of the live slot's instances.
// In YAML: `3` or `"100%"`.
type Quantity struct {
	Value   int
	Percent bool
}

// DeployStep deploys an artifact to a slot ("upgrade containers").
type DeployStep struct {
	Slot      SlotRole `yaml:"slot,omitempty"`     // default new
	Artifact  string   `yaml:"artifact,omitempty"` // default service.artifact
	Instances Quantity `yaml:"instances"`
}

// ServiceStep sets up the service and its ingress (Kubernetes Services, Istio gateway
// and hosts, or the built-in router's listener).
type ServiceStep struct {
	Type    string   `yaml:"type,omitempty"` // ClusterIP or LoadBalancer on kubernetes
	Hosts   []string `yaml:"hosts,omitempty"`
	Gateway string   `yaml:"gateway,omitempty"`
	Routing *Routing `yaml:"routing,omitempty"`
}

// Routing sends chosen requests to the new slot whatever the weights say: A/B tests
// and previews of the staged version by the people who ask for it.
type Routing struct {
	Match  []RouteMatch `yaml:"match,omitempty"`  // any one rule sends a request to the new slot
	Sticky bool         `yaml:"sticky,omitempty"` // keep a client on the slot it first got (builtin router)
}

// RouteMatch is one routing rule: a request header, or a cookie, with an exact value.
type RouteMatch struct {
	Header string `yaml:"header,omitempty"`
	Cookie string `yaml:"cookie,omitempty"`
	Value  string `yaml:"value"`

	Pos Pos `yaml:"-"`
}

// TrafficStep sets the new slot's share of traffic; the live slot gets the rest.
// In YAML also as a bare percentage: `traffic: 10%`.
type TrafficStep struct {
	Weight Percent `yaml:"weight"`
}

// VerifyStep checks metrics and logs over a window.
type VerifyStep struct {
	InitialDelay Duration `yaml:"initialDelay,omitempty"`
	// Interval is the time between measurements; default 30 s, shortened to
	// Duration when that is shorter. An interval longer than Duration is an error.
	Interval Duration `yaml:"interval,omitempty"`
	Count    int      `yaml:"count,omitempty"`
	// Duration bounds the measurements of the step: they are due within it.
	Duration Duration      `yaml:"duration,omitempty"`
	Metrics  []MetricCheck `yaml:"metrics,omitempty"`
	Logs     []LogCheck    `yaml:"logs,omitempty"`
	// OnProviderError says what a metric whose provider stays unavailable (no
	// answer, 5xx, 429 beyond the retries, a malformed answer) means for the
	// step: pause (the default: the execution pauses for a person and a
	// notification is sent), rollback, or continue (the metric is skipped, which
	// the record and the console say).
	OnProviderError string `yaml:"onProviderError,omitempty"`

	// Window is the length of each measurement's window for metrics that do not set
	// their own; default the interval.
	Window Duration `yaml:"window,omitempty"`
	// Direction, Confidence, EffectSize and Alpha are the judges' parameters for
	// metrics that do not set their own (see MetricCheck).
	Direction  string `yaml:"direction,omitempty"`
	Confidence Ratio  `yaml:"confidence,omitempty"`
	EffectSize *Ratio `yaml:"effectSize,omitempty"`
	Alpha      Ratio  `yaml:"alpha,omitempty"`
	// Score, when set, combines the metrics' verdicts into a 0-100 score instead of
	// failing on the first metric that fails.
	Score *ScoreSpec `yaml:"score,omitempty"`
}

// What a verify step does about a metric whose provider stays unavailable.
const (
	ProviderErrorPause    = "pause"
	ProviderErrorRollback = "rollback"
	ProviderErrorContinue = "continue"
)

// ProviderErrorActions are the values of VerifyStep.OnProviderError.
var ProviderErrorActions = []string{ProviderErrorPause, ProviderErrorRollback, ProviderErrorContinue}

// ScoreSpec sets the thresholds of a verify step's Kayenta-style score.
type ScoreSpec struct {
	Pass     *Number `yaml:"pass,omitempty"`     // at or above: Successful; default 95
	Marginal *Number `yaml:"marginal,omitempty"` // at or above: Inconclusive, below: Failed; default 75
}

// MetricCheck is one metric query judged by a condition.
type MetricCheck struct {
	Name     string `yaml:"name"`
	Provider string `yaml:"provider"` // a provider name from the environment
	Query    string `yaml:"query"`
	// Title is the metric's name in plain words on the console, in the UI and in
	// reports (default Name), e.g. "error rate".
	Title string `yaml:"title,omitempty"`
	// Unit is what the query's values measure, which decides how they are
	// written: percent (0-100), ratio (0-1, written as a percentage), ms, s,
	// count, rps or bytes. Default: ratio for the sequential judge and the
	// builtin provider's *_rate queries, ms for its *_ms queries, rps and count
	// for its rps and counts; otherwise a plain number.
	Unit string `yaml:"unit,omitempty"`
	// SuccessCondition and FailureCondition are expressions over `result`.
	SuccessCondition      string `yaml:"successCondition,omitempty"`
	FailureCondition      string `yaml:"failureCondition,omitempty"`
	Judge                 string `yaml:"judge,omitempty"` // threshold (default), mannwhitney, sequential
	Baseline              bool   `yaml:"baseline,omitempty"`
	NoData                string `yaml:"noData,omitempty"` // inconclusive (default), failed, successful
	FailureLimit          int    `yaml:"failureLimit,omitempty"`
	InconclusiveLimit     int    `yaml:"inconclusiveLimit,omitempty"`
	ConsecutiveErrorLimit int    `yaml:"consecutiveErrorLimit,omitempty"`
	// Window is the length of each measurement's window; default the step's window,
	// else its interval. The sequential judge has windows of its own.
	Window Duration `yaml:"window,omitempty"`
	// Direction is the change that is bad for mannwhitney: increase (default),
	// decrease or either.
	Direction string `yaml:"direction,omitempty"`
	// Confidence is mannwhitney's confidence level (default 0.95).
	Confidence Ratio `yaml:"confidence,omitempty"`
	// EffectSize is the relative change of the median mannwhitney allows even when
	// significant (default 0.1).
	EffectSize *Ratio `yaml:"effectSize,omitempty"`
	// Alpha bounds the sequential judge's chance of stopping a good canary (default 0.01).
	Alpha Ratio `yaml:"alpha,omitempty"`
	// MinRequests is the fewest canary requests before the sequential judge, or a
	// threshold over counts, may pass; fewer is Inconclusive ("not enough
	// evidence"), which fails the step. Default: sequential, derived from the
	// test's power (57 at alpha 1%); threshold, 10.
	MinRequests int `yaml:"minRequests,omitempty"`
	// MinSamples is the fewest points of each slot mannwhitney compares (default 5).
	MinSamples int `yaml:"minSamples,omitempty"`
	// Critical, Group and Weight place the metric in the step's score: a critical
	// metric that does not pass fails the score; metrics of a group share its weight.
	Critical bool   `yaml:"critical,omitempty"`
	Group    string `yaml:"group,omitempty"`
	Weight   Number `yaml:"weight,omitempty"`
	// Total, with the sequential judge, is a second query that counts every
	// request (trials) while Query counts the failed ones (events), for providers
	// that answer numbers rather than the builtin provider's counts.
	Total string `yaml:"total,omitempty"`
	// Counts says what Query and Total answer: window (default; the window's
	// count) or cumulative (a running count, such as a Prometheus counter, whose
	// growth between evaluations sluice counts).
	Counts string `yaml:"counts,omitempty"`
	Pos    Pos    `yaml:"-"`
}

// LogCheck is one log query; matches beyond the limit fail the check.
type LogCheck struct {
	Name       string `yaml:"name"`
	Provider   string `yaml:"provider"`
	Query      string `yaml:"query"`
	MaxMatches int    `yaml:"maxMatches,omitempty"`
	// Judge is count (default: matching lines beyond maxMatches fail) or compare
	// (error templates new in the canary, or much more frequent than in the
	// baseline, fail).
	Judge string `yaml:"judge,omitempty"`
	// Baseline queries the live slot too; the compare judge needs it and implies it.
	Baseline bool `yaml:"baseline,omitempty"`
	Pos      Pos  `yaml:"-"`
}

// LoadTestStep sends generated load to a slot and judges the outcome.
type LoadTestStep struct {
	Target       SlotRole `yaml:"target,omitempty"` // default new
	Path         string   `yaml:"path,omitempty"`
	Method       string   `yaml:"method,omitempty"`
	Rate         int      `yaml:"rate,omitempty"` // requests per second
	Concurrency  int      `yaml:"concurrency,omitempty"`
	Duration     Duration `yaml:"duration"`
	MaxErrorRate Percent  `yaml:"maxErrorRate,omitempty"`
	MaxP99       Duration `yaml:"maxP99,omitempty"`
	// URL, instead of a target slot, is where the load goes (for example the
	// ingress gateway with a header that routes to the new slot); it works
	// wherever sluice runs.
	URL string `yaml:"url,omitempty"`
	// Headers are sent with every request; Host sets the request's host.
	Headers map[string]string `yaml:"headers,omitempty"`
}

// TimeoutAction is what an approval does when nobody decides in time.
type TimeoutAction string

// Approval timeout actions.
const (
	TimeoutRollback TimeoutAction = "rollback"
	TimeoutContinue TimeoutAction = "continue"
	TimeoutFail     TimeoutAction = "fail"
)

// ApprovalStep waits for a person's decision.
type ApprovalStep struct {
	Message string `yaml:"message,omitempty"`
	// Approvers are user names or "group:<name>".
	Approvers []string `yaml:"approvers"`
	Required  int      `yaml:"required,omitempty"` // distinct approvals needed; default 1
	// ForbidSelfApproval refuses an approval from the person who started the execution
	// (they may still reject it).
	ForbidSelfApproval bool          `yaml:"forbidSelfApproval,omitempty"`
	Timeout            Duration      `yaml:"timeout,omitempty"`
	OnTimeout          TimeoutAction `yaml:"onTimeout,omitempty"` // default rollback
}

// WaitStep pauses for a fixed time. In YAML also as a bare duration: `wait: 30s`.
type WaitStep struct {
	Duration Duration `yaml:"duration"`
}

// WebhookStep calls a URL and judges the answer.
type WebhookStep struct {
	URL     string            `yaml:"url"`
	Method  string            `yaml:"method,omitempty"` // default POST
	Headers map[string]string `yaml:"headers,omitempty"`
	Body    string            `yaml:"body,omitempty"`
	// ExpectStatus lists accepted status codes; default any 2xx.
	ExpectStatus []int `yaml:"expectStatus,omitempty"`
	// Condition is an optional expression over the response (status, body, json).
	Condition string `yaml:"condition,omitempty"`
}

// PromoteStep makes the new slot live: 100% of traffic, and the roles swap.
type PromoteStep struct{}

// ScaleDownStep scales a slot to zero, after an optional delay that keeps an instant
// switch back possible.
type ScaleDownStep struct {
	Slot  SlotRole `yaml:"slot,omitempty"` // default old
	Delay Duration `yaml:"delay,omitempty"`
}

// Environment says where and how a workflow's instances run and are verified.
type Environment struct {
	APIVersion string          `yaml:"apiVersion"`
	Kind       string          `yaml:"kind"`
	Metadata   Metadata        `yaml:"metadata"`
	Spec       EnvironmentSpec `yaml:"spec"`
}

// EnvironmentSpec is the body of an Environment.
type EnvironmentSpec struct {
	Platform  PlatformSpec   `yaml:"platform"`
	Router    RouterSpec     `yaml:"router"`
	Providers []ProviderSpec `yaml:"providers,omitempty"`
	// Notifications announce the environment's executions (see notify.go).
	Notifications *NotificationsSpec `yaml:"notifications,omitempty"`
	// ReleaseNamespaces are the Kubernetes namespaces whose Release resources may start
	// runs in this environment. Empty: the kubernetes platform's namespace, and no
	// namespace at all for other platforms.
	ReleaseNamespaces []string `yaml:"releaseNamespaces,omitempty"`
}

// PlatformSpec chooses where instances run. Exactly the block named by Type may be set.
type PlatformSpec struct {
	Type       string                  `yaml:"type"` // local, kubernetes, recorder
	Local      *LocalPlatformSpec      `yaml:"local,omitempty"`
	Kubernetes *KubernetesPlatformSpec `yaml:"kubernetes,omitempty"`
	Recorder   *RecorderSpec           `yaml:"recorder,omitempty"`
}

// LocalPlatformSpec configures instances as processes on this machine. Only what
// Commands allows may run: a workflow's artifact names one of them (and a version),
// never a command line.
type LocalPlatformSpec struct {
	// WorkDir holds one working directory per instance; default: a directory under the
	// system's temporary directory that only sluice may write.
	WorkDir   string   `yaml:"workDir,omitempty"`
	StopGrace Duration `yaml:"stopGrace,omitempty"`
	// User is the OS user (name or uid) instances run as when sluice runs as root;
	// default nobody. When sluice is not root it must be empty or sluice's own user.
	User string `yaml:"user,omitempty"`
	// Commands are the executables instances may run.
	Commands []LocalCommand `yaml:"commands,omitempty"`
}

// LocalCommand is one executable the local platform may run, with its arguments.
type LocalCommand struct {
	// Name is what an artifact names: NAME, or NAME:VERSION when Executable or Args use
	// ${VERSION}.
	Name string `yaml:"name"`
	// Executable is an absolute path. It may use ${VERSION} (one path element chosen by
	// the artifact), or be a glob (/opt/shop/releases/*/shop) that an artifact written as
	// an absolute path must match.
	Executable string `yaml:"executable"`
	// Args are the arguments, one word each, with ${PORT}, ${SLOT}, ${SERVICE},
	// ${INSTANCE} and ${VERSION} replaced for each instance. No shell is involved.
	Args []string `yaml:"args,omitempty"`
	Pos  Pos      `yaml:"-"`
}

// KubernetesPlatformSpec configures Deployments and Services through the API server.
type KubernetesPlatformSpec struct {
	Kubeconfig  string `yaml:"kubeconfig,omitempty"` // empty: in-cluster
	Context     string `yaml:"context,omitempty"`
	Namespace   string `yaml:"namespace"`
	ServiceType string `yaml:"serviceType,omitempty"` // ClusterIP (default) or LoadBalancer
	// SlotURL is how sluice reaches a slot's Service when it runs outside the cluster
	// (a kubeconfig): a URL with {{slot}} and optionally {{service}}, {{namespace}} and
	// {{port}}, to which a load test's path is appended. Empty: a loadtest target
	// needs sluice inside the cluster (the Service's DNS name) or a url of its own.
	SlotURL string `yaml:"slotURL,omitempty"`
}

// RecorderSpec configures the recording platform or router, which move nothing and
// write each effect to a JSON-lines file. It exists for sluice's own tests.
type RecorderSpec struct {
	File string `yaml:"file"`
}

// RouterSpec chooses what splits traffic. Exactly the block named by Type may be set.
type RouterSpec struct {
	Type       string                `yaml:"type"` // builtin, istio, gatewayapi, recorder
	Builtin    *BuiltinRouterSpec    `yaml:"builtin,omitempty"`
	Istio      *IstioRouterSpec      `yaml:"istio,omitempty"`
	GatewayAPI *GatewayAPIRouterSpec `yaml:"gatewayapi,omitempty"`
	Recorder   *RecorderSpec         `yaml:"recorder,omitempty"`
}

// BuiltinRouterSpec configures sluice's own proxy.
type BuiltinRouterSpec struct {
	Listen string `yaml:"listen"`          // e.g. 127.0.0.1:8080
	Admin  string `yaml:"admin,omitempty"` // admin/metrics listener
	// Mode is http (the default: requests are split, and services sharing the
	// listen address are chosen by Host / SNI) or tcp (whole connections are split;
	// services sharing the address are chosen by the TLS ClientHello's server name,
	// passed through untouched).
	Mode string `yaml:"mode,omitempty"`
	// TLS makes the listener accept TLS (next to plaintext) with these files; in
	// http mode only.
	TLS *BuiltinTLSSpec `yaml:"tls,omitempty"`
	// Mirror copies a share of the requests routed to the other slot to one slot;
	// the copies' answers are discarded. In http mode only.
	Mirror *BuiltinMirrorSpec `yaml:"mirror,omitempty"`
	// Process is separate (the default: the data plane runs as its own `sluice
	// router` process that outlives server restarts) or inprocess (inside the
	// server, as before; for tests and demos).
	Process string `yaml:"process,omitempty"`
}

// BuiltinTLSSpec names the certificate and key files (PEM) of the builtin router's
// TLS listener; several certificates are chosen by SNI.
type BuiltinTLSSpec struct {
	Cert string `yaml:"cert"` // PEM certificate chain file
	Key  string `yaml:"key"`  // PEM private key file
}

// BuiltinMirrorSpec copies Percent of the requests routed to the other slot to
// the slot To.
type BuiltinMirrorSpec struct {
	To      string `yaml:"to"`      // blue or green: the slot that receives the copies
	Percent int    `yaml:"percent"` // 1-100
}

// IstioRouterSpec configures Gateway, DestinationRule and VirtualService.
type IstioRouterSpec struct {
	Namespace string   `yaml:"namespace,omitempty"`
	Gateway   string   `yaml:"gateway,omitempty"`
	Hosts     []string `yaml:"hosts,omitempty"`
	// VirtualService adopts a user-owned VirtualService instead of generating one.
	VirtualService string `yaml:"virtualService,omitempty"`
	Route          string `yaml:"route,omitempty"`
	Protocol       string `yaml:"protocol,omitempty"` // http (default), tcp, tls
	// Split is how routes reach a slot: host (default; the slot's own Service) or
	// subset (a DestinationRule subset of the stable Service).
	Split string `yaml:"split,omitempty"`
}

// GatewayAPIRouterSpec configures an HTTPRoute attached to a Gateway.
type GatewayAPIRouterSpec struct {
	Namespace string   `yaml:"namespace,omitempty"`
	Gateway   string   `yaml:"gateway"`
	Hostnames []string `yaml:"hostnames,omitempty"`
	// HTTPRoute adopts a user-owned HTTPRoute instead of generating one; Rule names
	// its rule whose backendRefs sluice sets.
	HTTPRoute string `yaml:"httpRoute,omitempty"`
	Rule      string `yaml:"rule,omitempty"`
}

// ProviderSpec names a verification data source.
type ProviderSpec struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"` // builtin, prometheus, newrelic, datadog, sumologic, loki, http
	URL  string `yaml:"url,omitempty"`
	// Credentials are references only; an inline secret is an error.
	Credentials map[string]SecretRef `yaml:"credentials,omitempty"`
	Settings    map[string]string    `yaml:"settings,omitempty"` // accountId, region, site, ...
	Pos         Pos                  `yaml:"-"`
}

// SecretRef points at a secret without containing it. Exactly one field is set.
type SecretRef struct {
	Env  string `yaml:"env,omitempty"`
	File string `yaml:"file,omitempty"`
	// Secret names a key of a Kubernetes Secret; only environments on the
	// kubernetes platform may use it.
	Secret *KubernetesSecretRef `yaml:"secret,omitempty"`
}

// KubernetesSecretRef names one key of a Kubernetes Secret.
type KubernetesSecretRef struct {
	// Namespace holds the Secret; default: the environment's kubernetes namespace.
	Namespace string `yaml:"namespace,omitempty"`
	Name      string `yaml:"name"`
	Key       string `yaml:"key"`
}

// String names the reference as namespace/name key, never its value.
func (r KubernetesSecretRef) String() string {
	if r.Namespace == "" {
		return fmt.Sprintf("secret %s key %s", r.Name, r.Key)
	}
	return fmt.Sprintf("secret %s/%s key %s", r.Namespace, r.Name, r.Key)
}

// Duration is a time.Duration written as "30s" or "5m" in YAML.
type Duration time.Duration

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Percent is a whole percentage 0..100, written as 10 or "10%".
type Percent int

// Pos is a place in a source file, 1-based.
type Pos struct {
	File   string
	Line   int
	Column int
}
