package spec

import (
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
)

// Notification triggers: the moments of an execution a notifier can announce.
const (
	TriggerStarted            = "started"
	TriggerApproval           = "approval"
	TriggerVerificationFailed = "verification_failed"
	TriggerRolledBack         = "rolled_back"
	TriggerSucceeded          = "succeeded"
)

// NotifyTriggers lists every trigger; a notifier without `on` is sent all of them.
var NotifyTriggers = []string{TriggerStarted, TriggerApproval, TriggerVerificationFailed, TriggerRolledBack, TriggerSucceeded}

// NotifierTypes are the kinds of notifier.
var NotifierTypes = []string{"slack", "webhook", "email"}

// NotificationsSpec says who hears about an environment's executions, and how.
type NotificationsSpec struct {
	// BaseURL is the web UI's address for links, e.g. https://sluice.example.com.
	BaseURL   string         `yaml:"baseURL,omitempty"`
	Notifiers []NotifierSpec `yaml:"notifiers"`
}

// NotifierSpec is one notifier. Exactly the block named by Type is set.
type NotifierSpec struct {
	Name    string               `yaml:"name,omitempty"` // shown on the console when it fails; default: the type
	Type    string               `yaml:"type"`           // slack, webhook or email
	On      []string             `yaml:"on,omitempty"`   // triggers; empty: all
	Slack   *SlackNotifierSpec   `yaml:"slack,omitempty"`
	Webhook *WebhookNotifierSpec `yaml:"webhook,omitempty"`
	Email   *EmailNotifierSpec   `yaml:"email,omitempty"`
}

// SlackNotifierSpec posts to a Slack incoming webhook, whose URL is a secret.
type SlackNotifierSpec struct {
	URL SecretRef `yaml:"url"`
}

// WebhookNotifierSpec posts JSON to a URL, signed with HMAC-SHA256 over the
// timestamp and the body with a shared secret.
type WebhookNotifierSpec struct {
	URL    string    `yaml:"url"`
	Secret SecretRef `yaml:"secret"`
}

// EmailNotifierSpec sends mail through an SMTP server.
type EmailNotifierSpec struct {
	Host     string     `yaml:"host"`
	Port     int        `yaml:"port,omitempty"` // default 587, or 25 with tls: none
	From     string     `yaml:"from"`
	To       []string   `yaml:"to"`
	Username string     `yaml:"username,omitempty"`
	Password *SecretRef `yaml:"password,omitempty"`
	// TLS is starttls (the default: required), tls (implicit, port 465) or none
	// (loopback servers and tests only).
	TLS string `yaml:"tls,omitempty"`
}

// Label returns the notifier's name, or its type when it has none.
func (n NotifierSpec) Label() string {
	if n.Name != "" {
		return n.Name
	}
	return n.Type
}

// Wants reports whether the notifier is sent trigger.
func (n NotifierSpec) Wants(trigger string) bool {
	return len(n.On) == 0 || slices.Contains(n.On, trigger)
}

// notifications checks an environment's notifiers.
func (v *validator) notifications(n *NotificationsSpec) {
	if n == nil {
		return
	}
	const path = "spec.notifications"
	if n.BaseURL != "" {
		if u, err := url.Parse(n.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.report(path+".baseURL", "baseURL %q: want the web UI's address, e.g. https://sluice.example.com", n.BaseURL)
		}
	}
	for i := range n.Notifiers {
		v.notifier(fmt.Sprintf("%s.notifiers[%d]", path, i), &n.Notifiers[i])
	}
}

func (v *validator) notifier(path string, n *NotifierSpec) {
	v.oneOf(path+".type", "notifier type", n.Type, NotifierTypes...)
	v.blockSet(path, "notifier", n.Type, map[string]bool{"slack": n.Slack != nil, "webhook": n.Webhook != nil, "email": n.Email != nil})
	for i, on := range n.On {
		v.oneOf(fmt.Sprintf("%s.on[%d]", path, i), "trigger", on, NotifyTriggers...)
	}
	switch {
	case n.Type == "slack" && n.Slack == nil, n.Type == "webhook" && n.Webhook == nil, n.Type == "email" && n.Email == nil:
		v.report(path, "notifier %s needs a %s block", n.Type, n.Type)
	case n.Slack != nil:
		v.secretRef(path+".slack.url", "slack.url", n.Slack.URL)
	case n.Webhook != nil:
		if u, err := url.Parse(n.Webhook.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.report(path+".webhook.url", "webhook url %q: want an http or https URL", n.Webhook.URL)
		}
		v.secretRef(path+".webhook.secret", "webhook.secret", n.Webhook.Secret)
	case n.Email != nil:
		v.email(path+".email", n.Email)
	}
}

func (v *validator) email(path string, e *EmailNotifierSpec) {
	v.nonEmpty(path+".host", "email.host must not be empty", e.Host)
	if e.Port < 0 || e.Port > 65535 {
		v.report(path+".port", "email.port %d is not a port", e.Port)
	}
	v.oneOf(path+".tls", "email tls", e.TLS, "starttls", "tls", "none")
	if _, err := mail.ParseAddress(e.From); err != nil {
		v.report(path+".from", "email.from %q is not an address", e.From)
	}
	if len(e.To) == 0 {
		v.report(path+".to", "email.to needs at least one address")
	}
	for i, to := range e.To {
		if _, err := mail.ParseAddress(to); err != nil || strings.ContainsAny(to, "\r\n") {
			v.report(fmt.Sprintf("%s.to[%d]", path, i), "email.to %q is not an address", to)
		}
	}
	if e.Password != nil {
		v.secretRef(path+".password", "email.password", *e.Password)
		if e.Username == "" {
			v.report(path+".username", "email.password is set without a username")
		}
	}
}
