package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/spec"
)

// Workload is the team's workload a service names, for the platform; nil when it
// names none.
func Workload(svc spec.Service) (*platform.Workload, error) {
	if svc.WorkloadRef == nil && svc.Template == nil && svc.Manifests == "" {
		return nil, nil
	}
	w := &platform.Workload{Manifests: svc.Manifests, Container: svc.Container}
	if r := svc.WorkloadRef; r != nil {
		w.Ref, w.ScaleDownOnPromote = r.Name, r.ScaleDown == spec.ScaleDownOnPromote
	}
	if svc.Template != nil {
		b, err := json.Marshal(svc.Template)
		if err != nil {
			return nil, fmt.Errorf("service template: %w", err)
		}
		w.Template = b
	}
	return w, nil
}

// promoted tells a platform that acts on promotion (the kubernetes platform scaling
// the team's own Deployment down) that the new slot is live, as one keyed effect.
func (r *run) promoted(ctx context.Context, ss *StepState) error {
	p, ok := r.rt.Platform.(platform.Promoter)
	if !ok {
		return nil
	}
	ref := platform.SlotRef{Service: r.ex.Service, Slot: r.state.NewSlot}
	return r.effect(ctx, r.attemptKey(ss)+"/promoted", func(ctx context.Context, key string) error {
		if err := p.Promoted(ctx, ref, key); err != nil {
			return fmt.Errorf("promoted %s: %w", ref, err)
		}
		return nil
	})
}
