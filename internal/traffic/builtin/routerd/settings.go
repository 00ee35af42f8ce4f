package routerd

import (
	"crypto/tls"
	"fmt"
	"strconv"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/proxy"
	"github.com/sluicehq/sluice/internal/spec"
)

// Settings are what a router process serves with: the environment's
// router.builtin block. They travel as command-line flags (Args) from the server
// to the process, and back in the admin API's state so an adopting server can
// tell a router started with other settings.
type Settings struct {
	// Listen is the address the services are served on.
	Listen string `json:"listen"`
	// Admin is the HTTP admin listener's address; empty: none.
	Admin string `json:"admin,omitempty"`
	// Mode is "" (http) or "tcp".
	Mode string `json:"mode,omitempty"`
	// TLSCert and TLSKey are the PEM files of the TLS listener; empty: plaintext only.
	TLSCert string `json:"tlsCert,omitempty"`
	TLSKey  string `json:"tlsKey,omitempty"`
	// MirrorTo is the slot receiving MirrorPercent of the other slot's requests.
	MirrorTo      string `json:"mirrorTo,omitempty"`
	MirrorPercent int    `json:"mirrorPercent,omitempty"`
}

// SettingsOf returns the settings of an environment's router.builtin block.
func SettingsOf(b spec.BuiltinRouterSpec) Settings {
	s := Settings{Listen: b.Listen, Admin: b.Admin, Mode: b.Mode}
	if s.Mode == "http" {
		s.Mode = ""
	}
	if b.TLS != nil {
		s.TLSCert, s.TLSKey = b.TLS.Cert, b.TLS.Key
	}
	if b.Mirror != nil {
		s.MirrorTo, s.MirrorPercent = b.Mirror.To, b.Mirror.Percent
	}
	return s
}

// Args returns the `sluice router` flags that give a process these settings.
func (s Settings) Args() []string {
	args := []string{"--listen", s.Listen}
	add := func(flag, v string) {
		if v != "" {
			args = append(args, flag, v)
		}
	}
	add("--admin", s.Admin)
	add("--mode", s.Mode)
	add("--tls-cert", s.TLSCert)
	add("--tls-key", s.TLSKey)
	if s.MirrorPercent > 0 {
		args = append(args, "--mirror-to", s.MirrorTo, "--mirror-percent", strconv.Itoa(s.MirrorPercent))
	}
	return args
}

// ProxyConfig returns the proxy configuration template, with the TLS key pair
// loaded.
func (s Settings) ProxyConfig() (proxy.Config, error) {
	cfg := proxy.Config{Mode: proxy.Mode(s.Mode)}
	switch cfg.Mode {
	case "", proxy.ModeHTTP, proxy.ModeTCP:
	default:
		return cfg, fmt.Errorf("mode %q: want http or tcp", s.Mode)
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		return cfg, fmt.Errorf("tls needs both a certificate and a key file")
	}
	if s.TLSCert != "" {
		pair, err := tls.LoadX509KeyPair(s.TLSCert, s.TLSKey)
		if err != nil {
			return cfg, fmt.Errorf("tls key pair %s, %s: %w", s.TLSCert, s.TLSKey, err)
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}
	return cfg, nil
}

// Mirror returns the proxy mirror setting.
func (s Settings) Mirror() proxy.Mirror {
	return proxy.Mirror{Slot: platform.Slot(s.MirrorTo), Percent: s.MirrorPercent}
}
