package spec

import (
	"fmt"
	"regexp"
	"strings"
)

// Known types of platforms, routers and providers.
var (
	PlatformTypes = []string{"local", "kubernetes", "recorder"}
	RouterTypes   = []string{"builtin", "istio", "gatewayapi", "recorder"}
	ProviderTypes = []string{"builtin", "prometheus", "newrelic", "datadog", "sumologic", "loki", "victorialogs", "http"}
)

// environment checks a decoded Environment.
func (v *validator) environment(e *Environment) {
	v.header(e.APIVersion, e.Metadata)
	v.platform = e.Spec.Platform.Type
	v.platformSpec(&e.Spec.Platform)
	v.router(&e.Spec.Router, e.Spec.Platform.Type)
	v.providers(e.Spec.Providers, e.Spec.Router.Type)
	v.notifications(e.Spec.Notifications)
	for i, ns := range e.Spec.ReleaseNamespaces {
		v.name(fmt.Sprintf("spec.releaseNamespaces[%d]", i), "release namespace", ns)
	}
}

// blockSet checks that only the block named by the type is set. blocks maps each
// block name to whether it is set.
func (v *validator) blockSet(path, what, typ string, blocks map[string]bool) {
	for _, name := range sortedKeys(blocks) {
		if blocks[name] && name != typ && typ != "" {
			v.report(path+"."+name, "%s block %q does not match %s.type %q; remove the block or change the type", what, name, what, typ)
		}
	}
}

func (v *validator) platformSpec(p *PlatformSpec) {
	const path = "spec.platform"
	v.oneOf(path+".type", "platform type", p.Type, PlatformTypes...)
	v.blockSet(path, "platform", p.Type, map[string]bool{
		"local": p.Local != nil, "kubernetes": p.Kubernetes != nil, "recorder": p.Recorder != nil})
	switch p.Type {
	case "local":
		v.localPlatform(path+".local", p.Local)
	case "kubernetes":
		if p.Kubernetes == nil {
			v.report(path, "platform kubernetes needs a kubernetes block with a namespace")
			return
		}
		v.name(path+".kubernetes.namespace", "kubernetes.namespace", p.Kubernetes.Namespace)
		v.oneOf(path+".kubernetes.serviceType", "service type", p.Kubernetes.ServiceType, "ClusterIP", "LoadBalancer", "NodePort")
		v.slotURL(path+".kubernetes.slotURL", p.Kubernetes.SlotURL)
	case "recorder":
		if p.Recorder == nil {
			v.report(path, "platform recorder needs a recorder block with a file")
		} else {
			v.nonEmpty(path+".recorder.file", "recorder.file must not be empty", p.Recorder.File)
		}
	}
}

func (v *validator) router(r *RouterSpec, platform string) {
	const path = "spec.router"
	v.oneOf(path+".type", "router type", r.Type, RouterTypes...)
	v.blockSet(path, "router", r.Type, map[string]bool{"builtin": r.Builtin != nil,
		"istio": r.Istio != nil, "gatewayapi": r.GatewayAPI != nil, "recorder": r.Recorder != nil})
	if (r.Type == "istio" || r.Type == "gatewayapi") && platform != "kubernetes" && platform != "" {
		v.report(path+".type", "router %s needs platform kubernetes, but the platform is %s", r.Type, platform)
	}
	switch r.Type {
	case "builtin":
		if r.Builtin == nil {
			v.report(path, "router builtin needs a builtin block with listen, e.g. listen: 127.0.0.1:8080")
			return
		}
		v.hostPort(path+".builtin.listen", "builtin.listen", r.Builtin.Listen)
		if r.Builtin.Admin != "" {
			v.hostPort(path+".builtin.admin", "builtin.admin", r.Builtin.Admin)
		}
		v.builtinRouter(path+".builtin", r.Builtin)
	case "istio":
		if r.Istio != nil {
			v.oneOf(path+".istio.protocol", "istio protocol", r.Istio.Protocol, "http", "tcp", "tls")
			v.oneOf(path+".istio.split", "istio split", r.Istio.Split, "host", "subset")
		}
	case "gatewayapi":
		if r.GatewayAPI == nil {
			v.report(path, "router gatewayapi needs a gatewayapi block with a gateway")
			return
		}
		v.nonEmpty(path+".gatewayapi.gateway", "gatewayapi.gateway must not be empty", r.GatewayAPI.Gateway)
		if r.GatewayAPI.HTTPRoute != "" {
			v.nonEmpty(path+".gatewayapi.rule", "gatewayapi.rule must name the rule of the adopted http route whose weights sluice sets", r.GatewayAPI.Rule)
		}
	case "recorder":
		if r.Recorder == nil {
			v.report(path, "router recorder needs a recorder block with a file")
		} else {
			v.nonEmpty(path+".recorder.file", "recorder.file must not be empty", r.Recorder.File)
		}
	}
}

var (
	envVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	secretish  = regexp.MustCompile(`(?i)(key|token|secret|password|passwd)`)
)

func (v *validator) providers(ps []ProviderSpec, router string) {
	first := map[string]int{}
	for i := range ps {
		p := &ps[i]
		path := fmt.Sprintf("spec.providers[%d]", i)
		v.name(path+".name", "provider name", p.Name)
		if prev, dup := first[p.Name]; dup && p.Name != "" {
			v.report(path+".name", "duplicate provider name %q (first at line %d)", p.Name, ps[prev].Pos.Line)
		} else {
			first[p.Name] = i
		}
		v.oneOf(path+".type", "provider type", p.Type, ProviderTypes...)
		switch {
		case p.URL != "":
			v.httpURL(path+".url", "provider url", p.URL)
		case p.Type == "prometheus" || p.Type == "loki" || p.Type == "victorialogs" || p.Type == "http":
			v.report(path, "provider %s of type %s needs a url", p.Name, p.Type)
		}
		if p.Type == "builtin" && router != "builtin" && router != "" {
			v.report(path+".type", "provider %s reads the builtin router's metrics, but the router is %s", p.Name, router)
		}
		for _, k := range sortedKeys(p.Credentials) {
			v.secretRef(path+".credentials."+k, k, p.Credentials[k])
		}
		for _, k := range sortedKeys(p.Settings) {
			if secretish.MatchString(k) {
				v.report(path+".settings."+k, "setting %s looks like a secret; move it to credentials as {env: NAME}, {file: PATH} or {secret: {name: NAME, key: KEY}}", k)
			}
		}
	}
}

// secretRef checks that a credential names exactly one of an environment
// variable, a file or a key of a Kubernetes Secret.
func (v *validator) secretRef(path, name string, r SecretRef) {
	set := 0
	for _, ok := range []bool{r.Env != "", r.File != "", r.Secret != nil} {
		if ok {
			set++
		}
	}
	switch {
	case set > 1:
		v.report(path, "credential %s sets %s; use exactly one", name, refKinds(r))
	case set == 0:
		v.report(path, "credential %s needs env: VARIABLE_NAME, file: /path/to/secret or secret: {name: NAME, key: KEY}", name)
	case r.Env != "" && !envVarName.MatchString(r.Env):
		v.report(path+".env", "credential %s: %q is not an environment variable name", name, r.Env)
	case r.File != "" && strings.ContainsRune(r.File, 0):
		v.report(path+".file", "credential %s: file name is not valid", name)
	case r.Secret != nil:
		v.kubeSecretRef(path+".secret", name, r.Secret)
	}
}

// refKinds lists the kinds of reference r sets, e.g. "both env and file".
func refKinds(r SecretRef) string {
	var kinds []string
	for _, k := range []struct {
		name string
		set  bool
	}{{"env", r.Env != ""}, {"file", r.File != ""}, {"secret", r.Secret != nil}} {
		if k.set {
			kinds = append(kinds, k.name)
		}
	}
	if len(kinds) == 2 {
		return "both " + kinds[0] + " and " + kinds[1]
	}
	return strings.Join(kinds, ", ")
}

var (
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	secretKey    = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)
)

// kubeSecretRef checks a reference to a key of a Kubernetes Secret. Such a
// reference needs the kubernetes platform: the Secret is read with the same
// kubeconfig (or service account) as the platform's objects.
func (v *validator) kubeSecretRef(path, name string, s *KubernetesSecretRef) {
	if v.platform != "kubernetes" && v.platform != "" {
		v.report(path, "credential %s names a Kubernetes Secret, which needs platform kubernetes, but the platform is %s; use env or file", name, v.platform)
		return
	}
	if len(s.Name) > 253 || !dnsSubdomain.MatchString(s.Name) {
		v.report(path+".name", "credential %s: secret name %q is not a valid Kubernetes name (lowercase letters, digits, '-' and '.')", name, s.Name)
	}
	if len(s.Key) > 253 || !secretKey.MatchString(s.Key) || s.Key == "." || s.Key == ".." {
		v.report(path+".key", "credential %s: secret key %q is not a valid key (letters, digits, '-', '_' and '.')", name, s.Key)
	}
	if s.Namespace != "" {
		v.name(path+".namespace", "secret namespace", s.Namespace)
	}
}

// builtinRouter checks the builtin router's mode, TLS files, mirror and process.
func (v *validator) builtinRouter(path string, b *BuiltinRouterSpec) {
	v.oneOf(path+".mode", "builtin mode", b.Mode, "http", "tcp")
	v.oneOf(path+".process", "builtin process", b.Process, "separate", "inprocess")
	if b.TLS != nil {
		v.nonEmpty(path+".tls.cert", "tls.cert must name a PEM certificate file", b.TLS.Cert)
		v.nonEmpty(path+".tls.key", "tls.key must name a PEM private key file", b.TLS.Key)
		if b.Mode == "tcp" {
			v.report(path+".tls", "tls terminates HTTP; in tcp mode the router passes connections through untouched")
		}
	}
	if m := b.Mirror; m != nil {
		v.oneOf(path+".mirror.to", "mirror slot", m.To, "blue", "green")
		if m.To == "" {
			v.report(path+".mirror.to", "mirror.to must name the slot that receives the copies: blue or green")
		}
		if m.Percent < 1 || m.Percent > 100 {
			v.report(path+".mirror.percent", "mirror.percent must be 1-100, got %d", m.Percent)
		}
		if b.Mode == "tcp" {
			v.report(path+".mirror", "mirroring copies HTTP requests; it needs mode http")
		}
	}
}
