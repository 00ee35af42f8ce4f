package spec

// stepTimeoutHonoured lists the step types whose step-level timeout is enforced: a
// deploy waits that long for its instances to be ready, a webhook that long for its
// answer, a verification ends (as failed) when it has no verdict by then. Any other
// step's length is set by its own fields, so a timeout there would be accepted and
// ignored; it is refused with a hint instead.
var stepTimeoutHonoured = map[StepType]bool{StepDeploy: true, StepWebhook: true, StepVerify: true}

// stepTimeoutHint says, per step type, what sets its length instead of a timeout.
var stepTimeoutHint = map[StepType]string{
	StepApproval:  "an approval waits as long as approval.timeout says, then takes approval.onTimeout; move the timeout into the approval block",
	StepLoadTest:  "a load test lasts loadtest.duration",
	StepWait:      "a wait lasts its own duration",
	StepService:   "a service step only writes the service and ingress objects",
	StepTraffic:   "a traffic step only writes weights and reads them back",
	StepPromote:   "a promote step only moves all traffic and records the live slot",
	StepScaleDown: "a scaledown step waits scaledown.delay, then scales down",
}

// stepTimeout refuses a step-level timeout that the step's type would not honour.
func (v *validator) stepTimeout(path string, s *Step) {
	if !v.present(path+".timeout") && s.Timeout <= 0 {
		return
	}
	t := s.Type()
	if t == "" || stepTimeoutHonoured[t] {
		if s.Timeout <= 0 && v.present(path+".timeout") {
			v.report(path+".timeout", "timeout must be longer than 0, e.g. timeout: 5m")
		}
		return
	}
	an := "a "
	if t == StepApproval {
		an = "an "
	}
	v.report(path+".timeout", "%s%s step does not use a step-level timeout (only deploy, webhook and verify steps do): %s",
		an, t, stepTimeoutHint[t])
}

// webhookCondition refuses a webhook condition, which no engine evaluates yet.
func (v *validator) webhookCondition(path string, w *WebhookStep) {
	if w == nil || w.Condition == "" {
		return
	}
	v.report(path+".condition", "webhook conditions are not evaluated yet; check the answer's status with expectStatus instead")
}
