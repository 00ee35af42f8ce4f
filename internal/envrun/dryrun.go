package envrun

import (
	"context"
	"strings"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes"
	"github.com/sluicehq/sluice/internal/spec"
)

// DryRun returns the API's check for `sluice apply --dry-run`: a workflow whose
// stored environment is on the kubernetes platform has its slot Deployment sent to
// the API server as a server-side dry run, so a pod template the cluster would reject
// (or a missing workloadRef) fails the apply. Required variables without a default
// get placeholder values; a workflow whose environment is not stored yet, or not on
// kubernetes, is not checked.
func (w *Runtimes) DryRun(st Definitions) func(ctx context.Context, doc spec.Document) error {
	return func(ctx context.Context, doc spec.Document) error {
		if doc.Workflow == nil {
			return nil
		}
		wf, _, err := doc.Workflow.Instantiate(placeholders(doc.Workflow.Spec.Variables))
		if err != nil {
			return nil // validation has already spoken about the template itself
		}
		env, err := storedEnvironment(ctx, st, wf.Spec.Environment)
		if err != nil || env == nil || env.Spec.Platform.Type != "kubernetes" {
			return err
		}
		p, err := w.kubernetesPlatform(ctx, wf.Spec.Environment, env)
		if err != nil {
			return err
		}
		kp, ok := p.(*kubernetes.Platform)
		if !ok {
			return nil
		}
		if err := dryRunService(ctx, kp, wf.Spec.Service); err != nil {
			return spec.Problems{{Pos: doc.Pos, Path: "spec.service", Message: "server-side dry run in environment " + wf.Spec.Environment + ": " + err.Error()}}
		}
		return nil
	}
}

func dryRunService(ctx context.Context, p *kubernetes.Platform, svc spec.Service) error {
	wl, err := engine.Workload(svc)
	if err != nil {
		return err
	}
	d := platform.Deployment{
		Ref: platform.SlotRef{Service: svc.Name, Slot: platform.Blue}, Artifact: svc.Artifact,
		Instances: max(svc.Instances, 1), Port: svc.Port, Env: spec.EnvValues(svc.Env), Workload: wl,
	}
	if svc.Health != nil {
		d.Health = platform.HealthCheck{Path: svc.Health.Path, Status: svc.Health.Status}
	}
	return p.DryRun(ctx, d)
}

// placeholders gives each required variable without a default a value of its type.
func placeholders(vars []spec.Variable) map[string]string {
	out := map[string]string{}
	for _, v := range vars {
		if v.Default != nil {
			continue
		}
		switch v.Type {
		case spec.VarInt:
			out[v.Name] = "1"
		case spec.VarDuration:
			out[v.Name] = "1s"
		case spec.VarPercent:
			out[v.Name] = "10%"
		case spec.VarBool:
			out[v.Name] = "false"
		case spec.VarEnum:
			if len(v.Values) > 0 {
				out[v.Name] = v.Values[0]
			}
		default:
			out[v.Name] = "dry-run-" + strings.ToLower(v.Name)
		}
	}
	return out
}
