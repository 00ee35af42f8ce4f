package local

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/secrets"
)

func TestResolve(t *testing.T) {
	cmds := []Command{
		{Name: "shop", Executable: "/opt/shop/${VERSION}/shop", Args: []string{"--port", "${PORT}", "--v=${VERSION}"}},
		{Name: "tool", Executable: "/usr/bin/tool"},
		{Name: "any", Executable: "/opt/bin/*", Args: []string{"--name", "${SERVICE}-${SLOT}-${INSTANCE}"}},
	}
	vars := map[string]string{"PORT": "80", "SERVICE": "web", "SLOT": "blue", "INSTANCE": "2"}
	ok := []struct {
		artifact string
		want     []string
	}{
		{"shop:1.4.2", []string{"/opt/shop/1.4.2/shop", "--port", "80", "--v=1.4.2"}},
		{"tool", []string{"/usr/bin/tool"}},
		{"/opt/bin/report", []string{"/opt/bin/report", "--name", "web-blue-2"}},
	}
	for _, tc := range ok {
		iv, err := resolve(cmds, tc.artifact)
		if err != nil {
			t.Errorf("resolve(%q): %v", tc.artifact, err)
			continue
		}
		if got := iv.argv(maps.Clone(vars)); !slices.Equal(got, tc.want) {
			t.Errorf("resolve(%q) runs %q, want %q", tc.artifact, got, tc.want)
		}
	}
	for _, artifact := range []string{
		"/bin/sh -c id", "sh", "shop", "shop:../../bin", "shop:.hidden", "shop:a/b", "shop:v1 --x",
		"tool:v1", "/opt/bin/../../bin/sh", "/opt/bin/sub/x", "/opt/bin", "any", "", "/usr/bin/tool2",
	} {
		_, err := resolve(cmds, artifact)
		if !errors.Is(err, ErrNotAllowed) || !errors.Is(err, platform.ErrRefused) {
			t.Errorf("resolve(%q) = %v, want ErrNotAllowed (and platform.ErrRefused)", artifact, err)
			continue
		}
		if !strings.Contains(err.Error(), "allowed: shop:VERSION (/opt/shop/${VERSION}/shop), tool (/usr/bin/tool), any (or a path matching /opt/bin/*)") {
			t.Errorf("resolve(%q): %v does not say what is allowed", artifact, err)
		}
	}
	if _, err := resolve(nil, "tool"); !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), "allows no commands") {
		t.Errorf("no commands: %v", err)
	}
}

func TestEnvironIsClean(t *testing.T) {
	t.Setenv("SLUICE_SERVER_SECRET", "not for instances")
	env := environ(map[string]string{"A": "x-${PORT}", "PORT": "mine"}, map[string]string{"PORT": "80", "SLOT": "blue", "VERSION": ""}, "/w/0")
	want := []string{"PATH=" + basePath, "HOME=/w/0", "A=x-80", "PORT=mine", "PORT=80", "SLOT=blue"}
	if !slices.Equal(env, want) {
		t.Errorf("environ = %q, want %q (sluice's own values last, so they win)", env, want)
	}
	for _, k := range []string{"LD_PRELOAD", "LD_LIBRARY_PATH", "PATH", "BASH_ENV", "GCONV_PATH"} {
		if err := checkEnv(map[string]string{k: "/tmp/x"}); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("env %s: %v, want ErrNotAllowed", k, err)
		}
	}
	if err := checkEnv(map[string]string{"LOG_LEVEL": "debug"}); err != nil {
		t.Errorf("env LOG_LEVEL: %v", err)
	}
}

// TestSecretsMaskedInOutput: a deployment's secret values never reach Output.
func TestSecretsMaskedInOutput(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	opts := testOptions(t)
	opts.Output = func(ref platform.SlotRef, instance int, stream, line string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, line)
	}
	p := newTest(t, opts)
	ref := platform.SlotRef{Service: "secretive", Slot: platform.Blue}
	const secret = "hunter2-swordfish"
	d := deployment(ref, "app:"+secret, 1, "k") // the sample app prints its version
	d.Secrets = []string{secret}
	if err := p.Deploy(ctxFor(t, 5*time.Second), d); err != nil {
		t.Fatal(err)
	}
	waitReady(t, p, ref, 1)
	err := eventually(30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "sample-app "+secrets.Mask+" listening") })
	})
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		t.Errorf("no masked start line: %q", lines)
	}
	for _, l := range lines {
		if strings.Contains(l, secret) {
			t.Errorf("secret in output: %q", l)
		}
	}
}
