package spec

import (
	"net/url"
	"regexp"
	"strings"
)

// slotURLPlaceholder matches the {{name}} placeholders of a kubernetes slotURL.
var slotURLPlaceholder = regexp.MustCompile(`\{\{\s*([^}]*?)\s*\}\}`)

// ExpandSlotURL fills a kubernetes slotURL's placeholders for one slot of a service:
// {{slot}}, {{service}}, {{namespace}} and {{port}}. Unknown placeholders stay as
// they are (validation refuses them).
func ExpandSlotURL(tmpl, service, slot, namespace, port string) string {
	values := map[string]string{"slot": slot, "service": service, "namespace": namespace, "port": port}
	return slotURLPlaceholder.ReplaceAllStringFunc(tmpl, func(m string) string {
		if v, ok := values[slotURLPlaceholder.FindStringSubmatch(m)[1]]; ok {
			return v
		}
		return m
	})
}

// slotURL checks a kubernetes slotURL: known placeholders only, {{slot}} among
// them (so the new and the live slot are told apart), and an http(s) URL with a host
// once filled in.
func (v *validator) slotURL(path, s string) {
	if s == "" {
		return
	}
	for _, m := range slotURLPlaceholder.FindAllStringSubmatch(s, -1) {
		switch m[1] {
		case "slot", "service", "namespace", "port":
		default:
			v.report(path, "slotURL placeholder %s is unknown; use {{slot}}, {{service}}, {{namespace}} or {{port}}", m[0])
			return
		}
	}
	if !strings.Contains(ExpandSlotURL(s, "", "\x00", "", ""), "\x00") {
		v.report(path, "slotURL %q has no {{slot}}: it must reach the new and the live slot at different URLs", s)
		return
	}
	u, err := url.Parse(ExpandSlotURL(s, "shop", "blue", "ns", "8080"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.report(path, "slotURL %q is not an http:// or https:// URL with a host", s)
	}
}
