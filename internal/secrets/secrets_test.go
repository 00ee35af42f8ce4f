package secrets_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/secrets"
	"github.com/sluicehq/sluice/internal/spec"
)

// planted is a provider credential that must never come out of the process.
const planted = `dd-api-key-"quoted"\and-s3cr3t`

// fakeKube is a Kubernetes API with Secrets keyed "namespace/name".
type fakeKube map[string]map[string]string

func (f fakeKube) Get(_ context.Context, namespace, name, key string) ([]byte, error) {
	s, ok := f[namespace+"/"+name]
	if !ok {
		return nil, errors.New("not found")
	}
	if v, ok := s[key]; ok {
		return []byte(v), nil
	}
	return nil, fmt.Errorf("no key %s", key)
}

func kubeRef(ns, name, key string) spec.SecretRef {
	return spec.SecretRef{Secret: &spec.KubernetesSecretRef{Namespace: ns, Name: name, Key: key}}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("file-secret-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DD_API_KEY": planted}
	kube := fakeKube{"shop/hooks": {"url": "kube-secret-value\n"}, "ops/hooks": {"url": "ops-secret-value"}}
	for _, tc := range []struct {
		name    string
		ref     spec.SecretRef
		want    string
		wantErr string
	}{
		{"env", spec.SecretRef{Env: "DD_API_KEY"}, planted, ""},
		{"file", spec.SecretRef{File: file}, "file-secret-value", ""},
		{"env unset", spec.SecretRef{Env: "NOPE"}, "", "environment variable NOPE: secret not set"},
		{"file missing", spec.SecretRef{File: filepath.Join(dir, "nope")}, "", "secret not set"},
		{"file empty", spec.SecretRef{File: empty}, "", "is empty"},
		{"both", spec.SecretRef{Env: "DD_API_KEY", File: file}, "", "use one"},
		{"neither", spec.SecretRef{}, "", "empty reference"},
		{"kubernetes secret", kubeRef("", "hooks", "url"), "kube-secret-value", ""},
		{"kubernetes secret elsewhere", kubeRef("ops", "hooks", "url"), "ops-secret-value", ""},
		{"kubernetes secret missing key", kubeRef("", "hooks", "uri"), "", "secrets: secret shop/hooks key uri: secret not set: no key uri"},
		{"kubernetes secret missing", kubeRef("", "slack", "url"), "", "secrets: secret shop/slack key url: secret not set: not found"},
		{"kubernetes secret and env", spec.SecretRef{Env: "DD_API_KEY", Secret: kubeRef("", "hooks", "url").Secret}, "", "use one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			red := &secrets.Redactor{}
			r := &secrets.Resolver{Getenv: func(k string) string { return env[k] }, Redactor: red,
				Kube: kube, Namespace: "shop"}
			got, err := r.Resolve(context.Background(), tc.ref)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				if strings.HasPrefix(tc.name, "kubernetes secret missing") && !errors.Is(err, secrets.ErrNotSet) {
					t.Errorf("err %v is not ErrNotSet", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v", got, err)
			}
			if red.String("x "+got+" y") != "x [redacted] y" {
				t.Fatalf("resolved value not registered: %q", red.String(got))
			}
		})
	}
}

// TestPlantedSecretNeverLeaks plants a provider credential referenced by env var and
// pushes it through an error, a log line (text and JSON handlers, attributes, groups,
// bound attributes) and a JSON-encoded answer.
func TestPlantedSecretNeverLeaks(t *testing.T) {
	red := &secrets.Redactor{}
	r := &secrets.Resolver{Getenv: func(string) string { return planted }, Redactor: red}
	key, err := r.Resolve(context.Background(), spec.SecretRef{Env: "DD_API_KEY"})
	if err != nil {
		t.Fatal(err)
	}
	sentinel := errors.New("provider refused")
	providerErr := fmt.Errorf("datadog: query with key %s: %w", key, sentinel)
	var out bytes.Buffer

	rerr := red.Error(providerErr)
	if !errors.Is(rerr, sentinel) {
		t.Fatal("redaction broke errors.Is")
	}
	out.WriteString(rerr.Error() + "\n")

	for _, h := range []slog.Handler{slog.NewTextHandler(&out, nil), slog.NewJSONHandler(&out, nil)} {
		log := slog.New(secrets.NewHandler(h, red)).With("bound", key)
		log.Error("query failed with "+key, "err", providerErr, "key", key, "url", "https://x/?api_key="+key,
			slog.Group("req", "header", "DD-API-KEY: "+key), "any", struct{ K string }{key})
	}

	b, err := json.Marshal(map[string]string{"reason": providerErr.Error()})
	if err != nil {
		t.Fatal(err)
	}
	out.Write(red.Bytes(b))
	out.WriteString("\n" + red.String(string(b)))

	for _, leak := range []string{planted, "s3cr3t", `\"quoted\"`} {
		if strings.Contains(out.String(), leak) {
			t.Fatalf("%q leaked:\n%s", leak, out.String())
		}
	}
	if n := strings.Count(out.String(), secrets.Mask); n < 12 {
		t.Fatalf("only %d masks:\n%s", n, out.String())
	}
}

func TestShortValuesNotMasked(t *testing.T) {
	red := &secrets.Redactor{}
	red.Add("abc", "")
	if got := red.String("abc def"); got != "abc def" {
		t.Fatalf("%q", got)
	}
	red.Add("abcd", "abcdef")
	if got := red.String("abcdefg abcd"); got != "[redacted]g [redacted]" {
		t.Fatalf("longest first: %q", got)
	}
}

// TestRedactorConcurrent adds values while other goroutines mask text (run with -race).
func TestRedactorConcurrent(t *testing.T) {
	red := &secrets.Redactor{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			red.Add(fmt.Sprintf("secret-%04d", i))
		}
	}()
	for i := 0; i < 200; i++ {
		_ = red.String(fmt.Sprintf("line with secret-%04d", i))
	}
	<-done
	if got := red.String("secret-0199"); got != secrets.Mask {
		t.Fatalf("%q", got)
	}
}
