package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/platform/kubernetes"
	"github.com/sluicehq/sluice/internal/spec"
)

// destination is where one load test sends its requests.
type destination struct {
	urls   []string    // used in turn
	header http.Header // the step's headers
	label  string      // the slot, or "url", for the console
	slot   string      // the slot loaded, empty for a url
	target string      // new, live or url
	where  string      // for the console, without credentials
}

// destination resolves where the step's load goes: the step's url; on the
// kubernetes platform, the slot's Service by its cluster DNS name (sluice runs in
// the cluster); otherwise the ready instances of the slot on the local platform.
func (s *Step) destination(ctx context.Context, sc *engine.StepContext, lt *spec.LoadTestStep) (destination, error) {
	header := make(http.Header, len(lt.Headers))
	for k, v := range lt.Headers {
		header.Set(k, v)
	}
	if lt.URL != "" {
		u, err := url.Parse(lt.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return destination{}, fmt.Errorf("loadtest: url %q is not an http(s) URL with a host", redactURL(lt.URL))
		}
		return destination{urls: []string{lt.URL}, header: header, label: "url", target: "url", where: u.Redacted()}, nil
	}
	ref, role, err := targetSlot(sc, lt)
	if err != nil {
		return destination{}, err
	}
	d := destination{header: header, label: string(ref.Slot), slot: string(ref.Slot), target: string(role)}
	if env := sc.Environment; env != nil && env.Spec.Platform.Type == "kubernetes" {
		u, err := ClusterURL(env, ref, sc.Service.Port, pathOf(lt))
		if err != nil {
			return destination{}, err
		}
		d.urls, d.where = []string{u}, fmt.Sprintf("the Service of %s (%s)", ref, redactURL(u))
		return d, nil
	}
	addrs, err := s.targets.Endpoints(ctx, sc.EnvironmentName, ref)
	if err != nil {
		return destination{}, fmt.Errorf("loadtest %s: endpoints: %w", ref.Slot, err)
	}
	if len(addrs) == 0 {
		return destination{}, fmt.Errorf("loadtest %s: no ready instance of %s to send load to", ref.Slot, ref)
	}
	for _, a := range addrs {
		d.urls = append(d.urls, "http://"+a+pathOf(lt))
	}
	d.where = fmt.Sprintf("%d instance(s) of %s, %s", len(addrs), ref, pathOf(lt))
	return d, nil
}

// ClusterURL returns the URL of a slot's Service on an environment's kubernetes
// platform: the environment's slotURL filled in for the slot when it has one (how
// sluice reaches a slot from outside the cluster), or else the in-cluster name
// (<service>-<slot>.<namespace>.svc:<port>), which resolves only inside the
// cluster: an environment that reaches its cluster through a kubeconfig is reached
// from outside, and its load tests then need a slotURL or a url.
func ClusterURL(env *spec.Environment, ref platform.SlotRef, port int, path string) (string, error) {
	k := env.Spec.Platform.Kubernetes
	if k == nil {
		return "", fmt.Errorf("loadtest %s: environment %s has no kubernetes block", ref.Slot, env.Metadata.Name)
	}
	if k.SlotURL != "" {
		base := spec.ExpandSlotURL(k.SlotURL, ref.Service, string(ref.Slot), k.Namespace, strconv.Itoa(port))
		return strings.TrimSuffix(base, "/") + path, nil
	}
	if k.Kubeconfig != "" || !InCluster() {
		return "", fmt.Errorf("loadtest %s: the Service of %s is reachable only inside the cluster and this sluice runs outside it "+
			"(environment %s uses kubeconfig %q); give the loadtest step a url, or the environment a kubernetes.slotURL", ref.Slot, ref, env.Metadata.Name, k.Kubeconfig)
	}
	if port <= 0 {
		return "", fmt.Errorf("loadtest %s: service %s has no port", ref.Slot, ref.Service)
	}
	host := kubernetes.SlotName(ref) + "." + k.Namespace + ".svc"
	return "http://" + host + ":" + strconv.Itoa(port) + path, nil
}

// InCluster reports whether this process runs in a Kubernetes pod, where the
// kubelet sets KUBERNETES_SERVICE_HOST.
func InCluster() bool { return os.Getenv("KUBERNETES_SERVICE_HOST") != "" }

func pathOf(lt *spec.LoadTestStep) string {
	if lt.Path == "" {
		return DefaultPath
	}
	return lt.Path
}

// headerNames lists the names (never the values, which may be credentials) of
// the headers sent, for the console.
func headerNames(h http.Header) string {
	if len(h) == 0 {
		return ""
	}
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	return ", with header(s) " + strings.Join(names, ", ")
}

// redactURL hides a URL's password, or the whole URL when it does not parse.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}

// targetSlot returns the slot the step sends load to.
func targetSlot(sc *engine.StepContext, lt *spec.LoadTestStep) (platform.SlotRef, spec.SlotRole, error) {
	role := lt.Target
	if role == "" {
		role = spec.RoleNew
	}
	slot := sc.NewSlot
	if role == spec.RoleLive {
		slot = sc.LiveSlot
	}
	if slot == "" {
		return platform.SlotRef{}, role, fmt.Errorf("loadtest: no %s slot to send load to", role)
	}
	return platform.SlotRef{Service: sc.Service.Name, Slot: slot}, role, nil
}
