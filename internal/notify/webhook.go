package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Webhook headers: receivers check the signature over timestamp "." body and refuse
// a timestamp outside their tolerance, so a captured request cannot be replayed.
const (
	HeaderSignature = "X-Sluice-Signature" // "sha256=" + hex HMAC-SHA256
	HeaderTimestamp = "X-Sluice-Timestamp" // Unix seconds
	HeaderEvent     = "X-Sluice-Event"     // the trigger
	HeaderDelivery  = "X-Sluice-Delivery"  // unique per delivery, the same across retries
)

// ErrPermanent marks a failure that retrying cannot fix (a 4xx answer).
var ErrPermanent = errors.New("not retried")

// ErrBadSignature says a webhook request is not signed with the shared secret, or
// its timestamp is outside the tolerance.
var ErrBadSignature = errors.New("bad webhook signature")

// Webhook posts messages as JSON, signed with HMAC-SHA256.
type Webhook struct {
	URL    string
	Secret string
	Client *http.Client
	Now    func() time.Time
}

var _ Notifier = (*Webhook)(nil)

// Notify posts m as JSON with the signature headers.
func (w *Webhook) Notify(ctx context.Context, m Message) error {
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("webhook: encode: %w", err)
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	ts := strconv.FormatInt(now().Unix(), 10)
	hd := http.Header{}
	hd.Set("Content-Type", "application/json")
	hd.Set(HeaderTimestamp, ts)
	hd.Set(HeaderSignature, Sign(w.Secret, ts, body))
	hd.Set(HeaderEvent, m.Trigger)
	hd.Set(HeaderDelivery, deliveryID(m))
	return post(ctx, w.Client, "webhook", w.URL, hd, body)
}

// Sign returns the signature header value of body sent at timestamp ts.
func Sign(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a received webhook: the signature over ts and body, and a timestamp
// within tolerance of now.
func Verify(secret, ts, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q", ErrBadSignature, ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp %s is %s away from now", ErrBadSignature, ts, d.Round(time.Second))
	}
	if !hmac.Equal([]byte(Sign(secret, ts, body)), []byte(signature)) {
		return fmt.Errorf("%w: signature does not match", ErrBadSignature)
	}
	return nil
}

// deliveryID names one message: the same for every retry of it, so a receiver can
// drop duplicates.
func deliveryID(m Message) string {
	return fmt.Sprintf("%s-%s-%d", m.ExecutionID, m.Trigger, m.At.UnixNano())
}

// post sends body and maps the answer: 2xx is success, 4xx (but 408 and 429) a
// permanent failure, anything else worth a retry. Errors never name the URL, which
// may be a secret (a Slack webhook's is).
func post(ctx context.Context, c *http.Client, kind, url string, hd http.Header, body []byte) error {
	if c == nil {
		c = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: bad url: %w", kind, ErrPermanent)
	}
	req.Header = hd
	req.Header.Set("User-Agent", "sluice-notify/1")
	res, err := c.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) {
			err = ue.Unwrap() // *url.Error repeats the URL
		}
		return fmt.Errorf("%s: post: %w", kind, err)
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	if res.StatusCode/100 == 2 {
		return nil
	}
	err = fmt.Errorf("%s: HTTP %d: %s", kind, res.StatusCode, strings.TrimSpace(string(answer)))
	if res.StatusCode/100 == 4 && res.StatusCode != http.StatusRequestTimeout && res.StatusCode != http.StatusTooManyRequests {
		err = fmt.Errorf("%w (%w)", err, ErrPermanent)
	}
	return err
}
