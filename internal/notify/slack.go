package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Slack posts messages to a Slack incoming webhook, with buttons that open the
// execution and its approval dialog in the web UI.
type Slack struct {
	URL    string // the incoming webhook's URL, a secret
	Client *http.Client
}

var _ Notifier = (*Slack)(nil)

// Notify posts m as a Block Kit message with a plain-text fallback.
func (s *Slack) Notify(ctx context.Context, m Message) error {
	body, err := json.Marshal(slackPayload(m))
	if err != nil {
		return fmt.Errorf("slack: encode: %w", err)
	}
	hd := http.Header{}
	hd.Set("Content-Type", "application/json")
	return post(ctx, s.Client, "slack", s.URL, hd, body)
}

// slackEscape escapes the three characters Slack's mrkdwn treats as control
// characters, so names and reasons show as text.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

var slackEmoji = map[string]string{
	"started": ":rocket:", "approval": ":raised_hand:", "verification_failed": ":x:",
	"rolled_back": ":rewind:", "succeeded": ":white_check_mark:",
}

// slackPayload is the JSON of an incoming-webhook message.
func slackPayload(m Message) map[string]any {
	title := slackEscape(m.Title())
	lines := []string{fmt.Sprintf("%s *%s*", slackEmoji[m.Trigger], title),
		fmt.Sprintf("Execution `%s` of service *%s*, started by %s.", slackEscape(m.ExecutionID),
			slackEscape(m.Service), slackEscape(orDash(m.StartedBy)))}
	if m.Reason != "" {
		lines = append(lines, "> "+slackEscape(m.Reason))
	}
	blocks := []any{map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": strings.Join(lines, "\n")}}}
	var buttons []any
	button := func(text, url, style string) {
		b := map[string]any{"type": "button", "text": map[string]any{"type": "plain_text", "text": text}, "url": url}
		if style != "" {
			b["style"] = style
		}
		buttons = append(buttons, b)
	}
	if m.ApproveURL != "" {
		button("Approve…", m.ApproveURL, "primary")
		button("Reject…", m.RejectURL, "danger")
	}
	if m.URL != "" {
		button("Open execution", m.URL, "")
	}
	if len(buttons) > 0 {
		blocks = append(blocks, map[string]any{"type": "actions", "elements": buttons})
	}
	return map[string]any{"text": m.Title(), "blocks": blocks}
}
