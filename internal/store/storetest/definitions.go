package storetest

import (
	"errors"
	"testing"

	"github.com/sluicehq/sluice/internal/store"
)

func put(t *testing.T, s store.Store, kind store.Kind, name, src string, sec int) (store.Definition, bool) {
	t.Helper()
	d, changed, err := s.PutDefinition(ctxT(t), store.Definition{Kind: kind, Name: name, Source: src, CreatedAt: at(sec), CreatedBy: "ana"})
	if err != nil {
		t.Fatalf("put %s %s: %v", kind, name, err)
	}
	return d, changed
}

func testDefinitionVersions(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	for i, src := range []string{"a: 1", "a: 2", "a: 3"} {
		d, changed := put(t, s, store.KindWorkflow, "checkout", src, i)
		if !changed || d.Version != int64(i+1) || d.Source != src || !d.CreatedAt.Equal(at(i)) || d.CreatedBy != "ana" {
			t.Fatalf("put %d: got %+v changed=%v", i, d, changed)
		}
	}
	latest, err := s.GetDefinition(ctx, store.KindWorkflow, "checkout", 0)
	if err != nil || latest.Version != 3 || latest.Source != "a: 3" {
		t.Fatalf("latest: %+v, %v", latest, err)
	}
	v1, err := s.GetDefinition(ctx, store.KindWorkflow, "checkout", 1)
	if err != nil || v1.Source != "a: 1" || !v1.CreatedAt.Equal(at(0)) || v1.Kind != store.KindWorkflow || v1.Name != "checkout" {
		t.Fatalf("version 1: %+v, %v", v1, err)
	}
	if _, err := s.GetDefinition(ctx, store.KindWorkflow, "checkout", 9); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("version 9: want ErrNotFound, got %v", err)
	}
	if _, err := s.GetDefinition(ctx, store.KindEnvironment, "checkout", 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("kinds must be separate namespaces, got %v", err)
	}
	hist, err := s.DefinitionHistory(ctx, store.KindWorkflow, "checkout")
	if err != nil || len(hist) != 3 {
		t.Fatalf("history: %d entries, %v", len(hist), err)
	}
	for i, d := range hist {
		if d.Version != int64(i+1) {
			t.Fatalf("history not oldest first: %+v", hist)
		}
	}
}

func testDefinitionUnchanged(t *testing.T, s store.Store) {
	put(t, s, store.KindEnvironment, "prod", "x: 1", 0)
	d, changed := put(t, s, store.KindEnvironment, "prod", "x: 1", 5)
	if changed || d.Version != 1 || !d.CreatedAt.Equal(at(0)) {
		t.Fatalf("unchanged re-put: got %+v changed=%v, want version 1 unchanged", d, changed)
	}
	hist, err := s.DefinitionHistory(ctxT(t), store.KindEnvironment, "prod")
	if err != nil || len(hist) != 1 {
		t.Fatalf("history after unchanged put: %d, %v", len(hist), err)
	}
}

func testDefinitionDelete(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	put(t, s, store.KindWorkflow, "w", "v1", 0)
	put(t, s, store.KindWorkflow, "w", "v2", 1)
	if err := s.DeleteDefinition(ctx, store.KindWorkflow, "w", "bo", at(2)); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := s.GetDefinition(ctx, store.KindWorkflow, "w", 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("latest after delete: want ErrNotFound, got %v", err)
	}
	old, err := s.GetDefinition(ctx, store.KindWorkflow, "w", 2)
	if err != nil || old.Source != "v2" || old.Deleted {
		t.Fatalf("old version after delete: %+v, %v", old, err)
	}
	hist, err := s.DefinitionHistory(ctx, store.KindWorkflow, "w")
	if err != nil || len(hist) != 3 {
		t.Fatalf("history after delete: %d, %v", len(hist), err)
	}
	if tomb := hist[2]; !tomb.Deleted || tomb.Version != 3 || tomb.Source != "v2" || tomb.CreatedBy != "bo" || !tomb.CreatedAt.Equal(at(2)) {
		t.Fatalf("tombstone: %+v", tomb)
	}
	if err := s.DeleteDefinition(ctx, store.KindWorkflow, "w", "bo", at(3)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: want ErrNotFound, got %v", err)
	}
	if err := s.DeleteDefinition(ctx, store.KindWorkflow, "never", "bo", at(3)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete of unknown: want ErrNotFound, got %v", err)
	}
	d, changed := put(t, s, store.KindWorkflow, "w", "v2", 4) // same source as before the delete
	if !changed || d.Version != 4 || d.Deleted {
		t.Fatalf("re-put after delete: %+v changed=%v", d, changed)
	}
	if got, err := s.GetDefinition(ctx, store.KindWorkflow, "w", 0); err != nil || got.Version != 4 {
		t.Fatalf("latest after re-put: %+v, %v", got, err)
	}
}

func testDefinitionList(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	for i, n := range []string{"zeta", "alpha", "mid", "gone"} {
		put(t, s, store.KindWorkflow, n, "v1", i)
	}
	put(t, s, store.KindWorkflow, "alpha", "v2", 9)
	put(t, s, store.KindEnvironment, "prod", "e", 9)
	if err := s.DeleteDefinition(ctx, store.KindWorkflow, "gone", "ana", at(10)); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListDefinitions(ctx, store.KindWorkflow)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range list {
		names = append(names, d.Name)
		if d.Name == "alpha" && (d.Version != 2 || d.Source != "v2") {
			t.Errorf("alpha: want latest version, got %+v", d)
		}
	}
	if want := []string{"alpha", "mid", "zeta"}; !equalStrings(names, want) {
		t.Fatalf("list: got %v, want %v", names, want)
	}
	if env, err := s.ListDefinitions(ctx, store.KindEnvironment); err != nil || len(env) != 1 {
		t.Fatalf("environments: %v, %v", env, err)
	}
}

func testDefinitionErrors(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	if _, _, err := s.PutDefinition(ctx, store.Definition{Kind: store.KindWorkflow, Source: "x"}); err == nil {
		t.Error("put without a name: want an error")
	}
	if _, _, err := s.PutDefinition(ctx, store.Definition{Kind: "gadget", Name: "x", Source: "x"}); err == nil {
		t.Error("put of an unknown kind: want an error")
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
