package trigger_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/notify"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/trigger"
)

const secret = "s3cret-hook-key"

var now = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

// fixture reads a recorded payload, with its time placeholders set to at.
func fixture(t *testing.T, name string, at time.Time) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer("OCCUR_AT", strconv.FormatInt(at.Unix(), 10),
		"PUSHED_AT", strconv.FormatInt(at.Unix(), 10)).Replace(string(b))
	return []byte(s)
}

func gitHubRequest(body []byte, key, event string) trigger.Request {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(body)
	h := http.Header{}
	h.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	h.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	h.Set("X-GitHub-Event", event)
	return trigger.Request{Header: h, Body: body}
}

func webhookRequest(body []byte, key string, at time.Time, id string) trigger.Request {
	ts := strconv.FormatInt(at.Unix(), 10)
	h := http.Header{}
	h.Set(trigger.HeaderTimestamp, ts)
	h.Set(trigger.HeaderSignature, notify.Sign(key, ts, body))
	h.Set(trigger.HeaderDelivery, id)
	return trigger.Request{Header: h, Body: body}
}

func TestRegistryPushes(t *testing.T) {
	harbor := http.Header{}
	harbor.Set("Authorization", secret)
	for _, tc := range []struct {
		typ  string
		req  trigger.Request
		want trigger.Push
		id   string
	}{
		{spec.TriggerGitHub, gitHubRequest(fixture(t, "github-package-published.json", now), secret, "package"),
			trigger.Push{Image: "ghcr.io/acme/shop:v1.4.2", Repository: "ghcr.io/acme/shop", Tag: "v1.4.2",
				Digest: "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b", Pusher: "release-bot"},
			"72d3162e-cc78-11e3-81ab-4c9367dc0958"},
		{spec.TriggerHarbor, trigger.Request{Header: harbor, Body: fixture(t, "harbor-push-artifact.json", now.Add(-time.Minute))},
			trigger.Push{Image: "harbor.example.com/library/shop:v1.4.2", Repository: "harbor.example.com/library/shop", Tag: "v1.4.2",
				Digest: "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4", Pusher: "robot$ci"},
			"sha256:"},
		{spec.TriggerDockerHub, trigger.Request{Query: url.Values{"token": {secret}}, Body: fixture(t, "dockerhub-push.json", now)},
			trigger.Push{Image: "docker.io/acme/shop:v1.4.2", Repository: "docker.io/acme/shop", Tag: "v1.4.2", Pusher: "acmebuild"},
			"https://registry.hub.docker.com/u/acme/shop/hook/"},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			tr := spec.Trigger{Name: "push", Type: tc.typ, Variables: map[string]string{"artifact": "image", "version": "tag"},
				Set: map[string]string{"env": "staging"}}
			d, err := trigger.Receive(tr, secret, tc.req, now)
			if err != nil {
				t.Fatalf("receive: %v", err)
			}
			if d.Push == nil || *d.Push != tc.want {
				t.Fatalf("push %+v, want %+v", d.Push, tc.want)
			}
			if !strings.HasPrefix(d.ID, tc.id) {
				t.Fatalf("delivery id %q, want it to start with %q", d.ID, tc.id)
			}
			vars, err := d.Variables(tr)
			if err != nil || vars["artifact"] != tc.want.Image || vars["version"] != "v1.4.2" || vars["env"] != "staging" {
				t.Fatalf("variables %v, %v", vars, err)
			}
			// the same request with another secret is refused
			if _, err := trigger.Receive(tr, secret+"x", tc.req, now); !errors.Is(err, trigger.ErrUnauthenticated) {
				t.Fatalf("wrong secret: %v, want ErrUnauthenticated", err)
			}
			// a tag the trigger does not follow is ignored, not refused
			tr.Tags = []string{"release-*"}
			if _, err := trigger.Receive(tr, secret, tc.req, now); !errors.Is(err, trigger.ErrIgnored) || !strings.Contains(err.Error(), `tag "v1.4.2" matches none of release-*`) {
				t.Fatalf("unfollowed tag: %v", err)
			}
		})
	}
}

func TestWebhook(t *testing.T) {
	body := []byte(`{"build": {"version": "1.4.2", "number": 87, "green": true}, "ref": "main"}`)
	tr := spec.Trigger{Name: "ci", Type: spec.TriggerWebhook,
		Variables: map[string]string{"version": "build.version", "n": "build.number", "ok": "build.green"}}
	d, err := trigger.Receive(tr, secret, webhookRequest(body, secret, now.Add(-time.Minute), "build-87"), now)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	vars, err := d.Variables(tr)
	if err != nil || vars["version"] != "1.4.2" || vars["n"] != "87" || vars["ok"] != "true" || d.ID != "build-87" {
		t.Fatalf("variables %v, id %q, err %v", vars, d.ID, err)
	}
	tr.Variables["missing"] = "build.commit"
	if _, err := d.Variables(tr); !errors.Is(err, trigger.ErrPayload) || !strings.Contains(err.Error(), "variable missing: the payload has no build.commit") {
		t.Fatalf("missing field: %v", err)
	}
	for _, tc := range []struct {
		name string
		req  trigger.Request
		want error
	}{
		{"wrong key", webhookRequest(body, "other", now, "x"), trigger.ErrUnauthenticated},
		{"replayed an hour later", webhookRequest(body, secret, now.Add(-time.Hour), "x"), trigger.ErrStale},
		{"no delivery id", webhookRequest(body, secret, now, ""), trigger.ErrUnauthenticated},
		{"body changed after signing", func() trigger.Request {
			r := webhookRequest(body, secret, now, "x")
			r.Body = []byte(`{"build": {"version": "6.6.6"}}`)
			return r
		}(), trigger.ErrUnauthenticated},
		{"not JSON", webhookRequest([]byte("version=1"), secret, now, "x"), trigger.ErrPayload},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := trigger.Receive(tr, secret, tc.req, now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Fatalf("error %q shows the secret", err)
			}
		})
	}
}

func TestIgnoredAndStaleEvents(t *testing.T) {
	gh := spec.Trigger{Name: "g", Type: spec.TriggerGitHub}
	if _, err := trigger.Receive(gh, secret, gitHubRequest([]byte(`{"zen": "hi"}`), secret, "ping"), now); !errors.Is(err, trigger.ErrIgnored) {
		t.Fatalf("ping: %v", err)
	}
	updated := strings.Replace(string(fixture(t, "github-package-published.json", now)), `"published"`, `"updated"`, 1)
	if _, err := trigger.Receive(gh, secret, gitHubRequest([]byte(updated), secret, "package"), now); !errors.Is(err, trigger.ErrIgnored) {
		t.Fatalf("updated package: %v", err)
	}
	h := http.Header{}
	h.Set("Authorization", secret)
	old := trigger.Request{Header: h, Body: fixture(t, "harbor-push-artifact.json", now.Add(-time.Hour))}
	if _, err := trigger.Receive(spec.Trigger{Type: spec.TriggerHarbor}, secret, old, now); !errors.Is(err, trigger.ErrStale) {
		t.Fatalf("an hour-old Harbor event: %v", err)
	}
	pull := strings.Replace(string(fixture(t, "harbor-push-artifact.json", now)), "PUSH_ARTIFACT", "PULL_ARTIFACT", 1)
	if _, err := trigger.Receive(spec.Trigger{Type: spec.TriggerHarbor}, secret, trigger.Request{Header: h, Body: []byte(pull)}, now); !errors.Is(err, trigger.ErrIgnored) {
		t.Fatalf("a pull: %v", err)
	}
	if _, err := trigger.Receive(spec.Trigger{Type: spec.TriggerDockerHub}, "", trigger.Request{Query: url.Values{"token": {""}}}, now); !errors.Is(err, trigger.ErrUnauthenticated) {
		t.Fatalf("an empty secret must never authenticate: %v", err)
	}
}

func TestPushOf(t *testing.T) {
	for _, tc := range []struct {
		ref  string
		want trigger.Push
	}{
		{"registry.example.com:5000/team/shop:v2", trigger.Push{Image: "registry.example.com:5000/team/shop:v2", Repository: "registry.example.com:5000/team/shop", Tag: "v2"}},
		{"shop@sha256:abc", trigger.Push{Image: "shop@sha256:abc", Repository: "shop", Digest: "sha256:abc"}},
		{"ghcr.io/acme/shop:v2@sha256:abc", trigger.Push{Image: "ghcr.io/acme/shop:v2@sha256:abc", Repository: "ghcr.io/acme/shop", Tag: "v2", Digest: "sha256:abc"}},
		{"registry.example.com:5000/shop", trigger.Push{Image: "registry.example.com:5000/shop", Repository: "registry.example.com:5000/shop"}},
	} {
		if got := trigger.PushOf(tc.ref); got != tc.want {
			t.Errorf("PushOf(%q) = %+v, want %+v", tc.ref, got, tc.want)
		}
	}
}
