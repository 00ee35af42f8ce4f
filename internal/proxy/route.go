package proxy

import (
	"github.com/sluicehq/sluice/internal/platform"
)

// requestView is what routing reads from a request, whatever its protocol.
type requestView interface {
	header(name string) string
	cookie(name string) string
}

// decision is where routing sends a request.
type decision struct {
	slot platform.Slot
	// setSticky asks the response to record slot in the sticky cookie.
	setSticky bool
}

// route applies the table's rules, then the sticky cookie, then the weights.
func (p *Proxy) route(t *table, v requestView) decision {
	for _, r := range t.rules {
		if ruleMatches(r, v) && t.hasHealthy(r.Slot) {
			return decision{slot: r.Slot}
		}
	}
	if name := t.sticky; name != "" {
		if s := platform.Slot(v.cookie(name)); s.Valid() && t.weights.Of(s) > 0 && t.hasHealthy(s) {
			return decision{slot: s}
		}
		return decision{slot: t.weighted(), setSticky: true}
	}
	return decision{slot: t.weighted()}
}

// ruleMatches reports whether the request carries the rule's header or cookie.
func ruleMatches(r Rule, v requestView) bool {
	var got string
	if r.Header != "" {
		got = v.header(r.Header)
	} else {
		got = v.cookie(r.Cookie)
	}
	if r.Value == "" {
		return got != ""
	}
	return got == r.Value
}

// stickyCookie returns the Set-Cookie value recording slot in the table's cookie.
func stickyCookie(t *table, slot platform.Slot) string {
	return t.sticky + "=" + string(slot) + "; Path=/; HttpOnly; SameSite=Lax"
}
