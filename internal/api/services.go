package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/traffic"
)

// LiveReadBack is what an environment's router and platform say about a service now:
// the split the data plane really has, and what each slot runs.
type LiveReadBack struct {
	Weights traffic.Weights
	Slots   map[platform.Slot]platform.SlotStatus
}

// LiveReader reads a service back from its environment's router and platform.
type LiveReader func(ctx context.Context, environment, service string) (LiveReadBack, error)

// liveReadTimeout bounds one service's read-back, so a slow router cannot hold a
// listing.
const liveReadTimeout = 5 * time.Second

// LiveSlot is one slot of a service as its platform reports it.
type LiveSlot struct {
	Slot     string `json:"slot"`
	Weight   int    `json:"weight"`
	Artifact string `json:"artifact,omitempty"`
	Desired  int    `json:"desired"`
	Ready    int    `json:"ready"`
}

// LiveView is what serves a service now, read back from the router and the platform
// (Source "router"), or as the last execution recorded it when they cannot be read
// (Source "record", with Error saying why).
type LiveView struct {
	Slot      string           `json:"slot,omitempty"`
	Artifact  string           `json:"artifact,omitempty"`
	Instances int              `json:"instances"`
	Ready     int              `json:"ready"`
	Weights   *traffic.Weights `json:"weights,omitempty"`
	Slots     []LiveSlot       `json:"slots,omitempty"`
	Source    string           `json:"source"`
	Error     string           `json:"error,omitempty"`
}

// Release is one execution of a service: what it deployed, who started it, how it
// ended and how long it took.
type Release struct {
	Execution       string            `json:"execution"`
	Workflow        string            `json:"workflow"`
	WorkflowVersion int64             `json:"workflowVersion"`
	Artifact        string            `json:"artifact,omitempty"`
	Variables       map[string]string `json:"variables,omitempty"`
	StartedBy       string            `json:"startedBy"`
	Status          store.Status      `json:"status"`
	Reason          string            `json:"reason,omitempty"`
	CreatedAt       time.Time         `json:"createdAt"`
	EndedAt         *time.Time        `json:"endedAt,omitempty"`
	DurationMs      int64             `json:"durationMs"`
	Promoted        bool              `json:"promoted"`
}

// ServiceDetail answers GET /services/{environment}/{service}: what is live now and
// the service's releases, newest first.
type ServiceDetail struct {
	Environment string    `json:"environment"`
	Service     string    `json:"service"`
	Live        LiveView  `json:"live"`
	Record      Service   `json:"record"`
	Releases    []Release `json:"releases"`
}

// maxReleases is how many releases a service page lists.
const maxReleases = 100

// getService serves GET /services/{environment}/{service}.
func (h *handler) getService(w http.ResponseWriter, r *http.Request) {
	env, name := r.PathValue("environment"), r.PathValue("service")
	if err := h.authorize(r, roleViewer, env, "reading service "+name+" in "+env); err != nil {
		h.fail(w, r, err)
		return
	}
	rec, err := h.Store.GetService(r.Context(), env, name)
	if errors.Is(err, store.ErrNotFound) {
		err = &apiError{status: http.StatusNotFound, code: CodeNotFound, msg: fmt.Sprintf("service %q has no release in environment %q", name, env)}
	}
	if err != nil {
		h.fail(w, r, fmt.Errorf("service %s/%s: %w", env, name, err))
		return
	}
	exs, err := h.Store.ListExecutions(r.Context(), store.ExecutionFilter{Environment: env, Service: name, Limit: maxReleases})
	if err != nil {
		h.fail(w, r, fmt.Errorf("service %s/%s: releases: %w", env, name, err))
		return
	}
	out := ServiceDetail{Environment: env, Service: name, Live: h.liveView(r.Context(), rec),
		Record: serviceOf(rec), Releases: make([]Release, 0, len(exs))}
	wfs := workflowCache{}
	for _, e := range exs {
		out.Releases = append(out.Releases, h.releaseOf(r.Context(), e, wfs))
	}
	writeJSON(w, http.StatusOK, out)
}

// liveView reads a service back from its router and platform; without a reader, or
// when the read fails, it is the stored record, saying so.
func (h *handler) liveView(ctx context.Context, rec store.ServiceState) LiveView {
	stored := LiveView{Slot: rec.LiveSlot, Artifact: rec.Artifact, Instances: rec.Instances, Source: "record"}
	if h.Live == nil {
		return stored
	}
	ctx, cancel := context.WithTimeout(ctx, liveReadTimeout)
	defer cancel()
	rb, err := h.Live(ctx, rec.Environment, rec.Service)
	if err != nil {
		stored.Error = h.redact(err.Error())
		return stored
	}
	return liveOf(rb, platform.Slot(rec.LiveSlot))
}

// liveOf turns a read-back into a view: the live slot is the one with more traffic
// (the recorded one on a tie), and its artifact and instances are what the platform
// runs there.
func liveOf(rb LiveReadBack, recorded platform.Slot) LiveView {
	w := rb.Weights
	v := LiveView{Weights: &w, Source: "router"}
	var live platform.Slot
	switch {
	case w.Green > w.Blue:
		live = platform.Green
	case w.Blue > w.Green:
		live = platform.Blue
	default:
		live = recorded
	}
	for _, s := range []platform.Slot{platform.Green, platform.Blue} {
		st := rb.Slots[s]
		v.Slots = append(v.Slots, LiveSlot{Slot: string(s), Weight: w.Of(s), Artifact: st.Artifact, Desired: st.Desired, Ready: st.Ready})
		if s == live {
			v.Slot, v.Artifact, v.Instances, v.Ready = string(s), st.Artifact, st.Desired, st.Ready
		}
	}
	return v
}

// workflowCache keeps the workflow versions one request parsed.
type workflowCache map[string]*spec.Workflow

// workflow returns a stored workflow version, parsed; nil when it cannot be read.
func (h *handler) workflow(ctx context.Context, c workflowCache, name string, version int64) *spec.Workflow {
	key := fmt.Sprintf("%s@%d", name, version)
	if wf, ok := c[key]; ok {
		return wf
	}
	var wf *spec.Workflow
	if def, err := h.Store.GetDefinition(ctx, store.KindWorkflow, name, version); err == nil {
		wf, _ = spec.ParseWorkflow(name, []byte(def.Source))
	}
	c[key] = wf
	return wf
}

// releaseOf describes one execution as a release of its service (answers are masked
// by writeJSON).
func (h *handler) releaseOf(ctx context.Context, e store.Execution, c workflowCache) Release {
	rel := Release{Execution: e.ID, Workflow: e.Workflow, WorkflowVersion: e.WorkflowVersion,
		Variables: e.Variables, StartedBy: e.StartedBy, Status: e.Status, Reason: e.Reason,
		CreatedAt: e.CreatedAt}
	if wf := h.workflow(ctx, c, e.Workflow, e.WorkflowVersion); wf != nil {
		if cw, _, err := wf.Instantiate(e.Variables); err == nil {
			rel.Artifact = cw.Spec.Service.Artifact
		}
	}
	var st engine.State
	if len(e.State) > 0 && json.Unmarshal(e.State, &st) == nil {
		rel.Promoted = st.Promoted
	}
	end := h.Now()
	if e.Status.Terminal() {
		end = e.UpdatedAt
		rel.EndedAt = &end
	}
	rel.DurationMs = max(0, end.Sub(e.CreatedAt).Milliseconds())
	return rel
}

// liveService is a service as the listing answers it: its record, with slot,
// artifact and instances read back from the router and platform when they can be.
func (h *handler) liveService(ctx context.Context, rec store.ServiceState) Service {
	s := serviceOf(rec)
	v := h.liveView(ctx, rec)
	s.Source, s.ReadBackError, s.Weights = v.Source, v.Error, v.Weights
	if v.Source == "router" {
		s.LiveSlot, s.Artifact, s.Instances = v.Slot, v.Artifact, v.Instances
		s.Ready = &v.Ready
	}
	return s
}
