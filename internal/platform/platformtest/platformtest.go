package platformtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
)

// Config tells the suite what to deploy and how long to wait.
type Config struct {
	// Artifact is an artifact that starts and becomes ready under Health.
	Artifact string
	// Artifact2 is a second ready artifact, used to check that a new Deploy replaces
	// the first; when empty, Artifact is reused with a different Env.
	Artifact2 string
	// NeverReady is an artifact whose instances run but never pass Health; the test
	// that needs it is skipped when empty.
	NeverReady string
	// Health is the health check sent with every Deployment.
	Health platform.HealthCheck
	// Port is the port sent with every Deployment (what the artifact listens on, for
	// platforms that fix it).
	Port int
	// Env is sent with every Deployment.
	Env map[string]string
	// ReadyTimeout bounds every wait for a slot to become ready; 20s when zero.
	ReadyTimeout time.Duration
	// Poll is how often Status is polled while waiting; 50ms when zero.
	Poll time.Duration
	// Identities, when set, returns an identity for each running instance of a slot
	// (process IDs, pod UIDs); the suite uses it to check that a repeated Deploy did
	// not restart anything.
	Identities func(p platform.Platform, ref platform.SlotRef) []string
}

func (c Config) readyTimeout() time.Duration {
	if c.ReadyTimeout > 0 {
		return c.ReadyTimeout
	}
	return 20 * time.Second
}

func (c Config) poll() time.Duration {
	if c.Poll > 0 {
		return c.Poll
	}
	return 50 * time.Millisecond
}

// Run runs the conformance suite; newPlatform returns a fresh platform for each subtest
// and registers its own cleanup with t.
func Run(t *testing.T, newPlatform func(t *testing.T) platform.Platform, cfg Config) {
	t.Helper()
	if cfg.Artifact == "" {
		t.Fatal("platformtest: Config.Artifact is required")
	}
	s := &suite{cfg: cfg, newPlatform: newPlatform}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"DeployReachesReady", s.deployReachesReady},
		{"DeploySameKeyIsOneEffect", s.deploySameKey},
		{"DeployNewArtifactReplaces", s.deployNewArtifact},
		{"ScaleUpDownZero", s.scaleUpDownZero},
		{"ScaleSameKeyIsOneEffect", s.scaleSameKey},
		{"ScaleUnknownSlot", s.scaleUnknown},
		{"StatusUnknownSlot", s.statusUnknown},
		{"Remove", s.remove},
		{"SlotsAreIndependent", s.slotsIndependent},
		{"CancelledContext", s.cancelledContext},
		{"NeverReady", s.neverReady},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
}

type suite struct {
	cfg         Config
	newPlatform func(t *testing.T) platform.Platform
}

// ref returns a slot reference whose service name is unique to the subtest.
func (s *suite) ref(t *testing.T, slot platform.Slot) platform.SlotRef {
	name := strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	name = strings.ReplaceAll(name, "_", "-")
	return platform.SlotRef{Service: name, Slot: slot}
}

func (s *suite) deployment(ref platform.SlotRef, artifact string, n int, key string) platform.Deployment {
	env := map[string]string{}
	for k, v := range s.cfg.Env {
		env[k] = v
	}
	return platform.Deployment{
		Ref: ref, Artifact: artifact, Instances: n, Port: s.cfg.Port, Env: env,
		Health: s.cfg.Health, Labels: map[string]string{"suite": "platformtest"}, Key: key,
	}
}

func (s *suite) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 4*s.cfg.readyTimeout())
	t.Cleanup(cancel)
	return ctx
}

func (s *suite) mustDeploy(t *testing.T, p platform.Platform, d platform.Deployment) {
	t.Helper()
	if err := p.Deploy(s.ctx(t), d); err != nil {
		t.Fatalf("Deploy(%s, %d instances, key %q): %v", d.Ref, d.Instances, d.Key, err)
	}
}

func (s *suite) mustScale(t *testing.T, p platform.Platform, ref platform.SlotRef, n int, key string) {
	t.Helper()
	if err := p.Scale(s.ctx(t), ref, n, key); err != nil {
		t.Fatalf("Scale(%s, %d, key %q): %v", ref, n, key, err)
	}
}

func (s *suite) status(t *testing.T, p platform.Platform, ref platform.SlotRef) platform.SlotStatus {
	t.Helper()
	st, err := p.Status(s.ctx(t), ref)
	if err != nil {
		t.Fatalf("Status(%s): %v", ref, err)
	}
	return st
}

// waitFor polls Status until cond holds or ReadyTimeout passes.
func (s *suite) waitFor(t *testing.T, p platform.Platform, ref platform.SlotRef, what string, cond func(platform.SlotStatus) bool) platform.SlotStatus {
	t.Helper()
	deadline := time.Now().Add(s.cfg.readyTimeout())
	for {
		st := s.status(t, p, ref)
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: waited %s for %s; last status %+v", ref, s.cfg.readyTimeout(), what, st)
		}
		time.Sleep(s.cfg.poll())
	}
}

func (s *suite) waitReady(t *testing.T, p platform.Platform, ref platform.SlotRef, n int) platform.SlotStatus {
	t.Helper()
	return s.waitFor(t, p, ref, fmt.Sprintf("%d ready of %d desired", n, n), func(st platform.SlotStatus) bool {
		return st.Desired == n && st.Ready == n
	})
}

func (s *suite) identities(p platform.Platform, ref platform.SlotRef) []string {
	if s.cfg.Identities == nil {
		return nil
	}
	ids := s.cfg.Identities(p, ref)
	slices.Sort(ids)
	return ids
}

func (s *suite) deployReachesReady(t *testing.T) {
	p := s.newPlatform(t)
	ref := s.ref(t, platform.Blue)
	s.mustDeploy(t, p, s.deployment(ref, s.cfg.Artifact, 2, "deploy-1"))
	st := s.waitReady(t, p, ref, 2)
	if st.Artifact != s.cfg.Artifact {
		t.Errorf("Status.Artifact = %q, want %q", st.Artifact, s.cfg.Artifact)
	}
	if st.Failed {
		t.Errorf("Status.Failed = true for a ready slot: %v", st.Reasons)
	}
	if ids := s.identities(p, ref); s.cfg.Identities != nil && len(ids) != 2 {
		t.Errorf("Identities = %v, want 2", ids)
	}
}

func (s *suite) deploySameKey(t *testing.T) {
	p := s.newPlatform(t)
	ref := s.ref(t, platform.Green)
	d := s.deployment(ref, s.cfg.Artifact, 2, "deploy-same")
	s.mustDeploy(t, p, d)
	s.waitReady(t, p, ref, 2)
	before := s.identities(p, ref)

	s.mustDeploy(t, p, d)
	changed := d
	changed.Instances = 3
	s.mustDeploy(t, p, changed) // the key already took effect: nothing changes
	st := s.status(t, p, ref)
	if st.Desired != 2 {
		t.Fatalf("after repeating key %q with 3 instances: Desired = %d, want 2", d.Key, st.Desired)
	}
	s.waitReady(t, p, ref, 2)
	if after := s.identities(p, ref); !slices.Equal(before, after) {
		t.Errorf("repeated Deploy restarted instances: before %v, after %v", before, after)
	}
}

func (s *suite) deployNewArtifact(t *testing.T) {
	p := s.newPlatform(t)
	ref := s.ref(t, platform.Blue)
	s.mustDeploy(t, p, s.deployment(ref, s.cfg.Artifact, 1, "v1"))
	s.waitReady(t, p, ref, 1)
	before := s.identities(p, ref)

	d := s.deployment(ref, s.cfg.Artifact, 2, "v2")
	if s.cfg.Artifact2 != "" {
		d.Artifact = s.cfg.Artifact2
	} else {
		d.Env["PLATFORMTEST_GENERATION"] = "2"
	}
	s.mustDeploy(t, p, d)
	st := s.waitFor(t, p, ref, "2 ready of the new deployment", func(st platform.SlotStatus) bool {
		return st.Artifact == d.Artifact && st.Desired == 2 && st.Ready == 2
	})
	if st.Failed {
		t.Errorf("Status.Failed after redeploy: %v", st.Reasons)
	}
	if s.cfg.Identities == nil {
		return
	}
	s.waitFor(t, p, ref, "old instances replaced", func(platform.SlotStatus) bool {
		after := s.identities(p, ref)
		return len(after) == 2 && !slices.ContainsFunc(after, func(id string) bool { return slices.Contains(before, id) })
	})
}

func (s *suite) scaleUpDownZero(t *testing.T) {
	p := s.newPlatform(t)
	ref := s.ref(t, platform.Blue)
	s.mustDeploy(t, p, s.deployment(ref, s.cfg.Artifact, 1, "deploy"))
	s.waitReady(t, p, ref, 1)
	steps := []struct {
		n   int
		key string
	}{{3, "up-3"}, {1, "down-1"}, {0, "zero"}, {2, "up-2"}}
	for _, step := range steps {
		s.mustScale(t, p, ref, step.n, step.key)
		st := s.waitReady(t, p, ref, step.n)
		if st.Artifact != s.cfg.Artifact {
			t.Errorf("after Scale(%d): Artifact = %q, want %q", step.n, st.Artifact, s.cfg.Artifact)
		}
		if ids := s.identities(p, ref); s.cfg.Identities != nil && len(ids) != step.n {
			t.Errorf("after Scale(%d): %d running instances %v", step.n, len(ids), ids)
		}
	}
}

func (s *suite) scaleSameKey(t *testing.T) {
	p := s.newPlatform(t)
	ref := s.ref(t, platform.Green)
	s.mustDeploy(t, p, s.deployment(ref, s.cfg.Artifact, 1, "deploy"))
	s.mustScale(t, p, ref, 2, "scale-a")
	s.waitReady(t, p, ref, 2)
	s.mustScale(t, p, ref, 1, "scale-b")
	s.waitReady(t, p, ref, 1)
	s.mustScale(t, p, ref, 2, "scale-a") // replay of an old key: no effect
	if st := s.status(t, p, ref); st.Desired != 1 {
		t.Fatalf("replayed Scale key changed Desired to %d, want 1", st.Desired)
	}
	s.mustScale(t, p, ref, 1, "scale-b")
	s.waitReady(t, p, ref, 1)
}

func (s *suite) scaleUnknown(t *testing.T) {
	p := s.newPlatform(t)
	ref := s.ref(t, platform.Blue)
	if err := p.Scale(s.ctx(t), ref, 2, "scale-unknown"); err == nil {
		t.Errorf("Scale of a slot never deployed to 2 instances: got nil error")
	}
	if err := p.Scale(s.ctx(t), ref, 0, "scale-unknown-zero"); err != nil {
		t.Errorf("Scale of a slot never deployed to 0: %v", err)
	}
	if st := s.status(t, p, ref); !isZero(st) {
		t.Errorf("Status after Scale of an unknown slot = %+v, want zero", st)
	}
}

func (s *suite) statusUnknown(t *testing.T) {
	p := s.newPlatform(t)
	ref := s.ref(t, platform.Green)
	st, err := p.Status(s.ctx(t), ref)
	if err != nil {
		t.Fatalf("Status of an unknown slot: %v", err)
	}
	if !isZero(st) {
		t.Errorf("Status of an unknown slot = %+v, want zero", st)
	}
}

func (s *suite) remove(t *testing.T) {
	p := s.newPlatform(t)
	ref := s.ref(t, platform.Blue)
	s.mustDeploy(t, p, s.deployment(ref, s.cfg.Artifact, 2, "deploy"))
	s.waitReady(t, p, ref, 2)
	if err := p.Remove(s.ctx(t), ref, "remove-1"); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if st := s.status(t, p, ref); !isZero(st) {
		t.Errorf("Status after Remove = %+v, want zero", st)
	}
	if ids := s.identities(p, ref); len(ids) != 0 {
		t.Errorf("instances still running after Remove: %v", ids)
	}
	if err := p.Remove(s.ctx(t), ref, "remove-1"); err != nil {
		t.Errorf("Remove repeated with the same key: %v", err)
	}
	if err := p.Remove(s.ctx(t), ref, "remove-2"); err != nil {
		t.Errorf("Remove of a removed slot: %v", err)
	}
	unknown := s.ref(t, platform.Green)
	if err := p.Remove(s.ctx(t), unknown, "remove-unknown"); err != nil {
		t.Errorf("Remove of a slot never deployed: %v", err)
	}
	// The slot can be deployed again after Remove.
	s.mustDeploy(t, p, s.deployment(ref, s.cfg.Artifact, 1, "deploy-again"))
	s.waitReady(t, p, ref, 1)
}

func (s *suite) slotsIndependent(t *testing.T) {
	p := s.newPlatform(t)
	blue, green := s.ref(t, platform.Blue), s.ref(t, platform.Green)
	s.mustDeploy(t, p, s.deployment(blue, s.cfg.Artifact, 1, "blue"))
	s.mustDeploy(t, p, s.deployment(green, s.cfg.Artifact, 2, "green"))
	s.waitReady(t, p, blue, 1)
	s.waitReady(t, p, green, 2)
	greenIDs := s.identities(p, green)
	if err := p.Remove(s.ctx(t), blue, "remove-blue"); err != nil {
		t.Fatalf("Remove blue: %v", err)
	}
	s.mustScale(t, p, green, 2, "scale-green")
	if st := s.waitReady(t, p, green, 2); st.Failed {
		t.Errorf("green failed after blue was removed: %v", st.Reasons)
	}
	if after := s.identities(p, green); !slices.Equal(greenIDs, after) {
		t.Errorf("green instances changed when blue was removed: %v -> %v", greenIDs, after)
	}
}

func (s *suite) cancelledContext(t *testing.T) {
	p := s.newPlatform(t)
	ref := s.ref(t, platform.Blue)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Deploy(ctx, s.deployment(ref, s.cfg.Artifact, 1, "cancelled")); !errors.Is(err, context.Canceled) {
		t.Errorf("Deploy with a cancelled context: err = %v, want context.Canceled", err)
	}
	if st := s.status(t, p, ref); !isZero(st) {
		t.Fatalf("Deploy with a cancelled context had an effect: %+v", st)
	}
	// The key of the cancelled call did not take effect, so it can be used now.
	s.mustDeploy(t, p, s.deployment(ref, s.cfg.Artifact, 1, "cancelled"))
	s.waitReady(t, p, ref, 1)
	if err := p.Scale(ctx, ref, 2, "scale-cancelled"); !errors.Is(err, context.Canceled) {
		t.Errorf("Scale with a cancelled context: err = %v, want context.Canceled", err)
	}
	if err := p.Remove(ctx, ref, "remove-cancelled"); !errors.Is(err, context.Canceled) {
		t.Errorf("Remove with a cancelled context: err = %v, want context.Canceled", err)
	}
	if _, err := p.Status(ctx, ref); !errors.Is(err, context.Canceled) {
		t.Errorf("Status with a cancelled context: err = %v, want context.Canceled", err)
	}
	if st := s.status(t, p, ref); st.Desired != 1 || st.Ready != 1 {
		t.Errorf("cancelled Scale/Remove had an effect: %+v", st)
	}
}

func (s *suite) neverReady(t *testing.T) {
	if s.cfg.NeverReady == "" {
		t.Skip("Config.NeverReady not set")
	}
	p := s.newPlatform(t)
	ref := s.ref(t, platform.Green)
	s.mustDeploy(t, p, s.deployment(ref, s.cfg.NeverReady, 1, "never"))
	st := s.waitFor(t, p, ref, "a reason why the slot is not ready", func(st platform.SlotStatus) bool {
		return len(st.Reasons) > 0 || st.Failed
	})
	if st.Ready != 0 {
		t.Errorf("NeverReady artifact counted ready: %+v", st)
	}
	if st.Desired != 1 {
		t.Errorf("Desired = %d, want 1", st.Desired)
	}
	if err := p.Remove(s.ctx(t), ref, "remove-never"); err != nil {
		t.Errorf("Remove of a slot that never became ready: %v", err)
	}
}

func isZero(st platform.SlotStatus) bool {
	return st.Artifact == "" && st.Desired == 0 && st.Ready == 0 && len(st.Reasons) == 0 && !st.Failed
}
