package spec

// StepTypes lists every step type in the order the documentation presents them.
var StepTypes = []StepType{StepDeploy, StepService, StepTraffic, StepVerify, StepLoadTest,
	StepApproval, StepWait, StepWebhook, StepPromote, StepScaleDown}

// blocks lists the type blocks a step sets, normally exactly one.
func (s *Step) blocks() []StepType {
	var out []StepType
	add := func(set bool, t StepType) {
		if set {
			out = append(out, t)
		}
	}
	add(s.Deploy != nil, StepDeploy)
	add(s.Service != nil, StepService)
	add(s.Traffic != nil, StepTraffic)
	add(s.Verify != nil, StepVerify)
	add(s.LoadTest != nil, StepLoadTest)
	add(s.Approval != nil, StepApproval)
	add(s.Wait != nil, StepWait)
	add(s.Webhook != nil, StepWebhook)
	add(s.Promote != nil, StepPromote)
	add(s.ScaleDown != nil, StepScaleDown)
	return out
}

// Type says which type block the step has; it is empty for an invalid step with none.
func (s *Step) Type() StepType {
	if b := s.blocks(); len(b) > 0 {
		return b[0]
	}
	return ""
}

// DisplayName is the step's name, or its type when it has none.
func (s *Step) DisplayName() string {
	if s.Name != "" {
		return s.Name
	}
	return string(s.Type())
}
