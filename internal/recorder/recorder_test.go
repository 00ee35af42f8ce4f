package recorder_test

import (
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
