package istio

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
)

// validateHosts checks hosts the way istiod does: DNS names, optionally with a
// leading wildcard label, or "*".
func validateHosts(hosts []string) error {
	var errs []error
	for _, h := range hosts {
		if err := validateHost(h); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func validateHost(h string) error {
	switch {
	case h == "*":
		return nil
	case strings.HasPrefix(h, "*."):
		if msgs := validation.IsWildcardDNS1123Subdomain(h); len(msgs) > 0 {
			return fmt.Errorf("host %q: %s", h, strings.Join(msgs, "; "))
		}
	default:
		if msgs := validation.IsDNS1123Subdomain(h); len(msgs) > 0 {
			return fmt.Errorf("host %q: %s", h, strings.Join(msgs, "; "))
		}
	}
	return nil
}

// validateVirtualService checks what istiod's webhook would before sluice writes a
// VirtualService: valid hosts, and in every route, weights within 0-100 that sum to
// 100 when there is more than one destination, and destinations to the service's host
// naming only subsets its DestinationRule defines.
func validateVirtualService(u *unstructured.Unstructured, host string, subsets []string) error {
	hosts, _, err := unstructured.NestedStringSlice(u.Object, "spec", "hosts")
	if err != nil {
		return fmt.Errorf("virtual service %s: spec.hosts: %w", u.GetName(), err)
	}
	if len(hosts) == 0 {
		return fmt.Errorf("virtual service %s: spec.hosts is empty", u.GetName())
	}
	errs := []error{validateHosts(hosts)}
	for _, proto := range []string{ProtocolHTTP, ProtocolTCP, ProtocolTLS} {
		list, _, _ := unstructured.NestedSlice(u.Object, "spec", proto)
		for i, e := range list {
			entry, _ := e.(map[string]any)
			dests, _ := entry["route"].([]any)
			errs = append(errs, validateRoute(fmt.Sprintf("spec.%s[%d]", proto, i), dests, host, subsets))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("virtual service %s: %w", u.GetName(), err)
	}
	return nil
}

func validateRoute(where string, dests []any, host string, subsets []string) error {
	var errs []error
	sum := 0
	for j, d := range dests {
		subset, weight, dh := destination(d)
		if weight < 0 || weight > 100 {
			errs = append(errs, fmt.Errorf("%s.route[%d]: weight %d is outside 0-100", where, j, weight))
		}
		sum += weight
		if dh == host && subset != "" && !slices.Contains(subsets, subset) {
			errs = append(errs, fmt.Errorf("%s.route[%d]: subset %q is not defined in the destination rule (have %v)", where, j, subset, subsets))
		}
	}
	if len(dests) > 1 && sum != 100 {
		errs = append(errs, fmt.Errorf("%s: weights sum to %d, not 100", where, sum))
	}
	return errors.Join(errs...)
}
