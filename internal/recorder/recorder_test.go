package recorder_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/platformtest"
	"github.com/sluicehq/sluice/internal/recorder"
)

func TestRecorderIsAPlatform(t *testing.T) {
	platformtest.Run(t, func(t *testing.T) platform.Platform {
		r, err := recorder.Open(filepath.Join(t.TempDir(), "effects.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}, platformtest.Config{
		Artifact:     "shop:v1",
		Artifact2:    "shop:v2",
		NeverReady:   recorder.UnreadyPrefix + "shop:v3",
		ReadyTimeout: 2 * time.Second,
		Poll:         time.Millisecond,
	})
}

// TestTwoRecordersShareAFile: a key applied through one recorder is a no-op through
// another on the same file, as two servers taking over from each other need.
func TestTwoRecordersShareAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "effects.jsonl")
	a, err := recorder.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := recorder.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	ref := platform.SlotRef{Service: "shop", Slot: platform.Blue}
	if err := a.Deploy(ctx, platform.Deployment{Ref: ref, Artifact: "v1", Instances: 2, Key: "k1"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Deploy(ctx, platform.Deployment{Ref: ref, Artifact: "v1", Instances: 2, Key: "k1"}); err != nil {
		t.Fatal(err)
	}
	if st, _ := b.Status(ctx, ref); st.Ready != 2 {
		t.Fatalf("b sees %+v, want a's deployment", st)
	}
	effects, err := recorder.ReadEffects(path)
	if err != nil || len(effects) != 1 {
		t.Fatalf("%d effects (%v), want the deployment once", len(effects), err)
	}
}
