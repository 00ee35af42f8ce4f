package spec

import (
	"strings"
	"testing"
)

func TestReleaseNamespaces(t *testing.T) {
	got := problemsOf(t, envHead+"  platform: {type: kubernetes, kubernetes: {namespace: shop}}\n  router: {type: istio}\n  releaseNamespaces: [shop, Team_B]\n")
	if len(got) != 1 || !strings.HasPrefix(got[0], `7:29: release namespace "Team_B" is not a valid name`) {
		t.Fatalf("problems: %q", got)
	}
	kube := &EnvironmentSpec{Platform: PlatformSpec{Type: "kubernetes", Kubernetes: &KubernetesPlatformSpec{Namespace: "shop"}}}
	local := &EnvironmentSpec{Platform: PlatformSpec{Type: "local", Local: &LocalPlatformSpec{}}}
	listed := &EnvironmentSpec{Platform: kube.Platform, ReleaseNamespaces: []string{"ci"}}
	for _, tc := range []struct {
		env  *EnvironmentSpec
		ns   string
		want bool
	}{
		{kube, "shop", true}, {kube, "other", false},
		{local, "shop", false}, {local, "", false},
		{listed, "ci", true}, {listed, "shop", false},
	} {
		if got := tc.env.AcceptsReleasesFrom(tc.ns); got != tc.want {
			t.Errorf("%+v accepts %q: %v, want %v", tc.env.ReleaseNamespaces, tc.ns, got, tc.want)
		}
	}
}
