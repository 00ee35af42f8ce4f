package kubernetes

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ReportingController is the reportingController of the Events sluice writes.
const ReportingController = "sluice.dev/sluice"

// Reasons of the Events sluice writes on the Deployments it manages.
const (
	ReasonSlotDeployed     = "SlotDeployed"
	ReasonSlotScaled       = "SlotScaled"
	ReasonSlotRemoved      = "SlotRemoved"
	ReasonWorkloadScaledTo = "WorkloadScaledDown"
)

// maxNote is the API server's limit on an Event's note.
const maxNote = 1024

// target names the Deployment an Event is about.
type target struct {
	name string
	uid  types.UID
}

// event records what sluice did to a Deployment as an events.k8s.io/v1 Event, so
// `kubectl describe deployment` and `kubectl events` tell the story. An Event that
// cannot be written (no RBAC for events, say) is logged, never an error: the change
// it describes has already happened.
func (p *Platform) event(ctx context.Context, t target, reason, action, format string, args ...any) {
	note := fmt.Sprintf(format, args...)
	if len(note) > maxNote {
		note = note[:maxNote]
	}
	now := time.Now()
	ev := &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%s", t.name, randomSuffix()), Namespace: p.opts.Namespace},
		EventTime:  metav1.NewMicroTime(now),
		Regarding: corev1.ObjectReference{
			APIVersion: "apps/v1", Kind: "Deployment", Namespace: p.opts.Namespace, Name: t.name, UID: t.uid,
		},
		Type: corev1.EventTypeNormal, Reason: reason, Action: action, Note: note,
		ReportingController: ReportingController, ReportingInstance: reportingInstance(),
	}
	if _, err := p.cs.EventsV1().Events(p.opts.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		p.log.Warn("could not record event", "deployment", t.name, "reason", reason, "err", err)
	}
}

func randomSuffix() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// reportingInstance names this sluice server: the pod's hostname inside a cluster.
func reportingInstance() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "sluice"
	}
	if len(h) > 128 {
		h = h[:128]
	}
	return h
}
