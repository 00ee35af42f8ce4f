package trigger

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/spec"
)

// Tolerance is how far the time a sender puts in a delivery may be from now; older
// deliveries are refused as replays even when their id was never seen (ids are kept
// for longer than this).
const Tolerance = 5 * time.Minute

// Errors of Receive, to be told apart with errors.Is.
var (
	// ErrUnauthenticated says the request is not signed with the trigger's secret.
	ErrUnauthenticated = errors.New("not signed with the trigger's secret")
	// ErrStale says the delivery's time is outside Tolerance of now.
	ErrStale = errors.New("delivery is too old or from the future")
	// ErrPayload says the body is not what the sender type sends.
	ErrPayload = errors.New("payload not understood")
	// ErrIgnored says the delivery is authentic but asks for nothing: a ping, an
	// event other than a push, or a tag the trigger does not follow.
	ErrIgnored = errors.New("nothing to do")
)

// Request is what a webhook brought.
type Request struct {
	Header http.Header
	Query  url.Values
	Body   []byte
}

// Delivery is one authenticated webhook.
type Delivery struct {
	// ID is unique per delivery and the same when the sender retries it.
	ID string
	// At is when the sender says it sent the delivery; zero when it does not say.
	At time.Time
	// Push is the pushed image, for the registry types.
	Push *Push
	// payload is the decoded body, for the webhook type.
	payload any
}

// Push is a container image pushed to a registry.
type Push struct {
	Image      string // repository:tag, what a deploy runs
	Repository string
	Tag        string
	Digest     string // sha256:..., when the registry gives it
	Pusher     string
}

// Receive authenticates r for trigger t, whose secret is secret, and decodes it. Its
// errors wrap the sentinels above and never contain the secret.
func Receive(t spec.Trigger, secret string, r Request, now time.Time) (Delivery, error) {
	if secret == "" {
		return Delivery{}, fmt.Errorf("%w: the trigger's secret is empty", ErrUnauthenticated)
	}
	var (
		d   Delivery
		err error
	)
	switch t.Type {
	case spec.TriggerWebhook:
		d, err = receiveWebhook(secret, r, now)
	case spec.TriggerGitHub:
		d, err = receiveGitHub(secret, r)
	case spec.TriggerHarbor:
		d, err = receiveHarbor(secret, r)
	case spec.TriggerDockerHub:
		d, err = receiveDockerHub(secret, r)
	default:
		return Delivery{}, fmt.Errorf("trigger %s: unknown type %q", t.Name, t.Type)
	}
	if err != nil {
		return Delivery{}, err
	}
	if !d.At.IsZero() {
		if off := now.Sub(d.At); off > Tolerance || off < -Tolerance {
			return Delivery{}, fmt.Errorf("%w: sent at %s, %s from now (tolerance %s)", ErrStale,
				d.At.UTC().Format(time.RFC3339), off.Round(time.Second), Tolerance)
		}
	}
	if d.Push != nil && !followsTag(t.Tags, d.Push.Tag) {
		return d, fmt.Errorf("%w: tag %q matches none of %s", ErrIgnored, d.Push.Tag, strings.Join(t.Tags, ", "))
	}
	return d, nil
}

// followsTag reports whether tag matches one of globs; no globs follow every tag.
func followsTag(globs []string, tag string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if ok, _ := path.Match(g, tag); ok {
			return true
		}
	}
	return false
}

// Variables returns the run's variables: the trigger's fixed values and the
// payload's fields it maps. A field the payload lacks is an error naming it.
func (d Delivery) Variables(t spec.Trigger) (map[string]string, error) {
	out := make(map[string]string, len(t.Set)+len(t.Variables))
	for k, v := range t.Set {
		out[k] = v
	}
	for name, field := range t.Variables {
		v, ok := d.Field(field)
		if !ok {
			return nil, fmt.Errorf("%w: variable %s: the payload has no %s", ErrPayload, name, field)
		}
		out[name] = v
	}
	return out, nil
}

// Field returns one field: a RegistryFields name for a push, otherwise a dotted path
// into the JSON body (strings as they are, numbers and booleans as written).
func (d Delivery) Field(name string) (string, bool) {
	if p := d.Push; p != nil {
		v := map[string]string{"image": p.Image, "repository": p.Repository, "tag": p.Tag,
			"digest": p.Digest, "pusher": p.Pusher}[name]
		return v, v != ""
	}
	cur := d.payload
	for _, part := range strings.Split(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false
		}
		if cur, ok = m[part]; !ok {
			return "", false
		}
	}
	switch v := cur.(type) {
	case string:
		return v, v != ""
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

// equal compares a received credential with the secret in constant time.
func equal(got, secret string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(secret)) == 1
}

// bodyID names a delivery by its body, for senders that give no id: a replay sends
// the same bytes.
func bodyID(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// decode reads a JSON body, keeping numbers as written.
func decode(body []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: not JSON: %v", ErrPayload, err)
	}
	return nil
}
