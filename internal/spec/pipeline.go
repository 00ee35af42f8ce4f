package spec

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// KindPipeline is the kind of a Pipeline document.
const KindPipeline = "Pipeline"

// Pipeline failure modes: what a failed stage does to the stages before it.
const (
	// PipelineRollbackStage leaves earlier stages as they are; the failed stage rolls
	// itself back as its workflow says (the default).
	PipelineRollbackStage = "rollback-stage"
	// PipelineRollbackAll also undoes every stage that had succeeded, latest first.
	PipelineRollbackAll = "rollback-all"
)

// Pipeline moves one release through several environments: ordered stages, each a
// workflow run in an environment, with gates between them.
type Pipeline struct {
	APIVersion string       `yaml:"apiVersion"`
	Kind       string       `yaml:"kind"`
	Metadata   Metadata     `yaml:"metadata"`
	Spec       PipelineSpec `yaml:"spec"`

	pos map[string]Pos // where each path was written, for checks against the store
}

// PipelineSpec is the body of a Pipeline.
type PipelineSpec struct {
	// Variables are given when the pipeline runs (artifact, ...); a stage's workflow
	// receives every one it declares, unless the stage sets it.
	Variables []Variable `yaml:"variables,omitempty"`
	// OnFailure is rollback-stage (default) or rollback-all.
	OnFailure string  `yaml:"onFailure,omitempty"`
	Stages    []Stage `yaml:"stages"`
}

// Stage is one workflow run in one environment.
type Stage struct {
	Name        string `yaml:"name"`
	Workflow    string `yaml:"workflow"`
	Environment string `yaml:"environment"`
	// Variables are the workflow's values; they may use ${pipeline.NAME} and
	// ${stages.STAGE.NAME} (a value an earlier stage ran with).
	Variables map[string]string `yaml:"variables,omitempty"`
	// After names the stages that must succeed before this one starts. Absent: the
	// stage before it in the list; an empty list: none. Stages with the same After run
	// in parallel; a stage after several of them is a barrier.
	After []string `yaml:"after,omitempty"`
	// Gates are passed in order once After has succeeded, before the stage starts.
	Gates []Gate `yaml:"gates,omitempty"`

	// Needs is After resolved (the previous stage when After is absent); set by
	// validation.
	Needs []string `yaml:"-"`
	Pos   Pos      `yaml:"-"`
}

// Gate holds a stage until it passes. Exactly one of its blocks is set.
type Gate struct {
	// Approval waits for people's decisions, with the rules of an approval step.
	Approval *ApprovalStep `yaml:"approval,omitempty"`
	// Soak waits this long after the stages before have succeeded, and fails when one
	// of their services is rolled back or changed by another release meanwhile.
	Soak Duration `yaml:"soak,omitempty"`
	// Verify measures the live release of every stage this one comes after, with the
	// fields of a verify step (metrics and logs of the stage's environment's
	// providers), and passes when every check succeeds.
	Verify *VerifyStep `yaml:"verify,omitempty"`
	Pos    Pos         `yaml:"-"`
}

// Kind names the gate's block: approval, soak or verify.
func (g *Gate) Kind() string {
	switch {
	case g.Approval != nil:
		return "approval"
	case g.Verify != nil:
		return "verify"
	}
	return "soak"
}

// ParsePipeline decodes and validates one Pipeline document.
func ParsePipeline(file string, src []byte) (*Pipeline, error) {
	doc, err := parseOne(file, src, KindPipeline)
	if err != nil {
		return nil, err
	}
	return doc.Pipeline, nil
}

// buildPipeline decodes and validates a Pipeline.
func buildPipeline(file string, raw *rawDoc) (*Pipeline, Problems) {
	d := newDecoder(file, nil)
	p := &Pipeline{}
	d.decode(raw.root, reflect.ValueOf(p).Elem(), "")
	v := &validator{d: d}
	if !d.stopped {
		v.pipeline(p)
	}
	p.pos = d.pos
	return p, append(d.problems, v.problems...)
}

// PosOf is where the document wrote path, or the nearest place that holds it.
func (p *Pipeline) PosOf(path string) Pos {
	for q := path; ; q = parentPath(q) {
		if pos, ok := p.pos[q]; ok {
			return pos
		}
		if q == "" {
			return Pos{}
		}
	}
}

// Stage returns the stage with the given name, or nil.
func (p *Pipeline) Stage(name string) *Stage {
	for i := range p.Spec.Stages {
		if p.Spec.Stages[i].Name == name {
			return &p.Spec.Stages[i]
		}
	}
	return nil
}

// Upstream returns every stage that must succeed before the named one, transitively.
func (p *Pipeline) Upstream(name string) map[string]bool {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(n string) {
		s := p.Stage(n)
		if s == nil {
			return
		}
		for _, up := range s.Needs {
			if !seen[up] {
				seen[up] = true
				walk(up)
			}
		}
	}
	walk(name)
	return seen
}

func (v *validator) pipeline(p *Pipeline) {
	v.header(p.APIVersion, p.Metadata)
	v.variables(p.Spec.Variables)
	v.oneOf("spec.onFailure", "onFailure", p.Spec.OnFailure, PipelineRollbackStage, PipelineRollbackAll)
	if len(p.Spec.Stages) == 0 {
		if !v.badUnder("spec.stages") {
			v.report("spec.stages", "a pipeline needs at least one stage")
		}
		return
	}
	names := map[string]int{}
	for i := range p.Spec.Stages {
		s := &p.Spec.Stages[i]
		path := fmt.Sprintf("spec.stages[%d]", i)
		v.name(path+".name", "stage name", s.Name)
		if prev, dup := names[s.Name]; dup && s.Name != "" {
			v.report(path+".name", "stage %s is named twice (first at line %d)", s.Name, p.Spec.Stages[prev].Pos.Line)
		} else {
			names[s.Name] = i
		}
		v.name(path+".workflow", "workflow", s.Workflow)
		v.name(path+".environment", "environment", s.Environment)
		for j := range s.Gates {
			v.gate(fmt.Sprintf("%s.gates[%d]", path, j), &s.Gates[j])
		}
	}
	for i := range p.Spec.Stages {
		v.stageNeeds(p, i, names)
	}
	v.stageCycles(p)
	declared := map[string]bool{}
	for _, va := range p.Spec.Variables {
		declared[va.Name] = true
	}
	for i := range p.Spec.Stages {
		v.stageVariables(p, i, declared)
	}
}

// stageNeeds resolves After into Needs and checks the names.
func (v *validator) stageNeeds(p *Pipeline, i int, names map[string]int) {
	s := &p.Spec.Stages[i]
	path := fmt.Sprintf("spec.stages[%d].after", i)
	if !v.present(path) {
		if i > 0 {
			s.Needs = []string{p.Spec.Stages[i-1].Name}
		}
		return
	}
	s.Needs = nil
	for j, up := range s.After {
		jp := fmt.Sprintf("%s[%d]", path, j)
		_, known := names[up]
		switch {
		case up == s.Name:
			v.report(jp, "stage %s cannot come after itself", s.Name)
		case !known:
			msg := fmt.Sprintf("stage %s comes after %q, which is no stage of this pipeline", s.Name, up)
			if hint := suggest(up, slices.Collect(maps.Keys(names))); hint != "" {
				msg += fmt.Sprintf("; did you mean %q?", hint)
			}
			v.report(jp, "%s", msg)
		case slices.Contains(s.Needs, up):
			v.report(jp, "stage %s lists %s twice", s.Name, up)
		default:
			s.Needs = append(s.Needs, up)
		}
	}
}

// stageCycles reports a cycle of after references at the first stage in it.
func (v *validator) stageCycles(p *Pipeline) {
	const (
		unseen = iota
		active
		done
	)
	state := map[string]int{}
	var visit func(name string, trail []string) []string
	visit = func(name string, trail []string) []string {
		switch state[name] {
		case active:
			return append(trail, name)
		case done:
			return nil
		}
		state[name] = active
		if s := p.Stage(name); s != nil {
			for _, up := range s.Needs {
				if c := visit(up, append(trail, name)); c != nil {
					return c
				}
			}
		}
		state[name] = done
		return nil
	}
	for i := range p.Spec.Stages {
		s := &p.Spec.Stages[i]
		if c := visit(s.Name, nil); c != nil {
			start := slices.Index(c, c[len(c)-1])
			at := slices.IndexFunc(p.Spec.Stages, func(st Stage) bool { return st.Name == c[start] })
			v.report(fmt.Sprintf("spec.stages[%d].after", at), "stages wait for each other in a cycle: %s; no stage of it could ever start",
				strings.Join(c[start:], " after "))
			return
		}
	}
}

var pipelineRef = regexp.MustCompile(`\$\{([^}]*)\}`)

// stageVariables checks every ${...} in a stage's values: ${pipeline.NAME} of a
// declared variable, ${stages.STAGE.NAME} of a stage that runs before this one.
func (v *validator) stageVariables(p *Pipeline, i int, declared map[string]bool) {
	s := &p.Spec.Stages[i]
	upstream := p.Upstream(s.Name)
	for _, key := range sortedKeys(s.Variables) {
		path := fmt.Sprintf("spec.stages[%d].variables.%s", i, key)
		for _, m := range pipelineRef.FindAllStringSubmatch(s.Variables[key], -1) {
			if msg := refProblem(m[1], declared, upstream, s.Name); msg != "" {
				v.report(path, "%s", msg)
			}
		}
	}
}

// refProblem says what is wrong with one reference, or "".
func refProblem(ref string, declared, upstream map[string]bool, stage string) string {
	parts := strings.Split(ref, ".")
	switch {
	case len(parts) == 2 && parts[0] == "pipeline":
		if !declared[parts[1]] {
			return fmt.Sprintf("${%s} names no variable of the pipeline; declared: %s", ref, listOrNone(slices.Sorted(maps.Keys(declared))))
		}
	case len(parts) == 3 && parts[0] == "stages":
		if !upstream[parts[1]] {
			return fmt.Sprintf("${%s}: stage %s does not run before stage %s (list it in after, directly or through another stage)", ref, parts[1], stage)
		}
	default:
		return fmt.Sprintf("${%s} is not a pipeline reference: use ${pipeline.NAME} or ${stages.STAGE.NAME}", ref)
	}
	return ""
}

// gate checks that exactly one block is set and that it makes sense.
func (v *validator) gate(path string, g *Gate) {
	set := 0
	if g.Approval != nil {
		set++
		v.approval(path+".approval", g.Approval)
	}
	if v.present(path + ".soak") {
		set++
		if g.Soak <= 0 && !v.badUnder(path+".soak") {
			v.report(path+".soak", "soak must be a positive duration such as 10m")
		}
	}
	if g.Verify != nil {
		set++
		v.verify(path+".verify", g.Verify)
	}
	switch {
	case v.badUnder(path):
	case set == 0:
		v.report(path, "a gate needs one of approval, soak or verify")
	case set > 1:
		v.report(path, "a gate holds one of approval, soak or verify; write several gates to have more (they pass in order)")
	}
}

// Resolve substitutes ${pipeline.NAME} and ${stages.STAGE.NAME} in one stage's
// values; stages holds the values each earlier stage ran with.
func (s *Stage) Resolve(vars map[string]string, stages map[string]map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(s.Variables))
	for k, val := range s.Variables {
		var err error
		out[k] = pipelineRef.ReplaceAllStringFunc(val, func(m string) string {
			parts := strings.Split(m[2:len(m)-1], ".")
			var got string
			var ok bool
			switch {
			case len(parts) == 2 && parts[0] == "pipeline":
				got, ok = vars[parts[1]]
			case len(parts) == 3 && parts[0] == "stages":
				got, ok = stages[parts[1]][parts[2]]
			}
			if !ok && err == nil {
				err = fmt.Errorf("stage %s: variables.%s: %s has no value", s.Name, k, m)
			}
			return got
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CheckPipelineReferences checks a pipeline against the workflows and environments
// it names: both must exist, the workflow must deploy to the stage's environment (or
// take it from a variable), and the stage may set only variables the workflow
// declares. workflows and environments hold what exists, by name.
func CheckPipelineReferences(p *Pipeline, workflows map[string]*Workflow, environments map[string]bool) Problems {
	var probs Problems
	report := func(path, format string, args ...any) {
		probs = append(probs, Problem{Pos: p.PosOf(path), Path: path, Message: fmt.Sprintf(format, args...)})
	}
	for i := range p.Spec.Stages {
		s := &p.Spec.Stages[i]
		path := fmt.Sprintf("spec.stages[%d]", i)
		if !environments[s.Environment] {
			report(path+".environment", "stage %s: no environment named %q; apply it first%s", s.Name, s.Environment,
				didYouMean(s.Environment, slices.Collect(maps.Keys(environments))))
		}
		wf := workflows[s.Workflow]
		if wf == nil {
			report(path+".workflow", "stage %s: no workflow named %q; apply it first%s", s.Name, s.Workflow,
				didYouMean(s.Workflow, slices.Collect(maps.Keys(workflows))))
			continue
		}
		envVar := wf.EnvironmentVariable()
		if envVar == "" && wf.Spec.Environment != s.Environment && !strings.Contains(wf.Spec.Environment, "${") {
			report(path+".environment", "stage %s: workflow %s always deploys to %s, not %s", s.Name, s.Workflow, wf.Spec.Environment, s.Environment)
		}
		declared := map[string]bool{}
		for _, va := range wf.Spec.Variables {
			declared[va.Name] = true
		}
		for _, k := range sortedKeys(s.Variables) {
			if !declared[k] {
				report(path+".variables."+k, "stage %s: workflow %s declares no variable %q; declared: %s", s.Name, s.Workflow, k,
					listOrNone(slices.Sorted(maps.Keys(declared))))
			}
		}
	}
	probs.Sort()
	return probs
}

// EnvironmentVariable is the variable the workflow's environment is taken from when
// spec.environment is exactly ${NAME}, else "".
func (w *Workflow) EnvironmentVariable() string {
	e := w.Spec.Environment
	if w.src != nil {
		if raw, _ := parseChunk(w.file, chunk{text: w.src, line0: w.line0}); raw != nil {
			if n := findPath(raw.root, "spec", "environment"); n != nil {
				e = n.Value
			}
		}
	}
	if m := pipelineRef.FindStringSubmatch(e); m != nil && m[0] == e {
		return m[1]
	}
	return ""
}

func didYouMean(s string, candidates []string) string {
	if hint := suggest(s, candidates); hint != "" {
		return fmt.Sprintf(" (did you mean %q?)", hint)
	}
	return ""
}

// Values applies the pipeline's defaults to the given values and checks them all.
func (p *Pipeline) Values(given map[string]string) (map[string]string, error) {
	out, probs := resolveValues(p.Spec.Variables, given)
	return out, probs.Err()
}
