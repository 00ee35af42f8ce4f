package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestKubectlArgs(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"get", "get executions"},
		{"get executions -o json", "get executions -o json"},
		{"get e-12", "describe execution e-12"},
		{"get e-12 -w", "logs -f e-12"},
		{"status e-12 --watch", "logs -f e-12"},
		{"status e-12", "describe execution e-12"},
		{"promote e-12 --comment ok", "approve e-12 --comment ok"},
		{"abort e-12 --reason x", "abort e-12 --reason x"},
		{"retry e-12", "retry e-12"},
		{"apply -f shop.yaml", "apply -f shop.yaml"},
	} {
		if got := strings.Join(kubectlArgs(strings.Fields(tc.in)), " "); got != tc.want {
			t.Errorf("kubectl sluice %s -> sluice %s, want sluice %s", tc.in, got, tc.want)
		}
	}
	for _, name := range []string{"/usr/local/bin/kubectl-sluice", "kubectl-sluice.exe"} {
		if !kubectlPlugin(name) {
			t.Errorf("%s is not taken for the kubectl plugin", name)
		}
	}
	if kubectlPlugin("/usr/bin/sluice") {
		t.Error("sluice is taken for the kubectl plugin")
	}
}

// TestKubectlPluginAgainstARealServer drives a release with the plugin's verbs:
// get lists it, promote approves it, and status -w follows it to success.
func TestKubectlPluginAgainstARealServer(t *testing.T) {
	c := startServer(t)
	file := filepath.Join(t.TempDir(), "shop.yaml")
	if err := os.WriteFile(file, []byte(e2eFiles), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl := func(args ...string) (int, string, string) { return c.run(kubectlArgs(args)...) }
	if code, out, errOut := kubectl("apply", "-f", file); code != 0 {
		t.Fatalf("apply: %d %q %q", code, out, errOut)
	}
	if code, out, errOut := kubectl("run", "shop", "--set", "artifact=shop:v1"); code != 0 {
		t.Fatalf("run: %d %q %q", code, out, errOut)
	}
	id := waitForWaiting(t, c)
	if code, out, _ := kubectl("get"); code != 0 || !strings.Contains(out, id) {
		t.Fatalf("kubectl sluice get: %d %q, want it to list %s", code, out, id)
	}
	if code, out, errOut := kubectl("promote", id, "--comment", "ship it"); code != 0 {
		t.Fatalf("kubectl sluice promote: %d %q %q", code, out, errOut)
	}
	done := make(chan int, 1)
	go func() { code, _, _ := kubectl("status", id, "-w"); done <- code }()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("kubectl sluice status -w exited %d after a promoted release", code)
		}
	case <-time.After(time.Minute):
		t.Fatal("kubectl sluice status -w did not end")
	}
	if code, out, _ := kubectl("status", id); code != 0 || !slices.ContainsFunc(strings.Split(out, "\n"), func(l string) bool { return strings.Contains(l, "succeeded") }) {
		t.Fatalf("kubectl sluice status: %d %q", code, out)
	}
}
