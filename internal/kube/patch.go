package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// Retries of a write that lost a race: at most MaxAttempts, after a jittered pause
// that grows from firstBackoff to maxBackoff.
const (
	MaxAttempts  = 50
	firstBackoff = 5 * time.Millisecond
	maxBackoff   = 200 * time.Millisecond
)

// Op is one JSON patch (RFC 6902) operation.
type Op struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// Test returns an operation that fails the patch unless path holds value.
func Test(path string, value any) Op { return Op{Op: "test", Path: path, Value: value} }

// Replace returns an operation that sets the existing path to value.
func Replace(path string, value any) Op { return Op{Op: "replace", Path: path, Value: value} }

// Add returns an operation that adds value at path (an object member, or a list
// index, "-" for the end).
func Add(path string, value any) Op { return Op{Op: "add", Path: path, Value: value} }

// Remove returns an operation that removes path.
func Remove(path string) Op { return Op{Op: "remove", Path: path} }

// Pointer builds a JSON pointer (RFC 6901) from path segments: strings are escaped,
// ints are list indexes.
func Pointer(segments ...any) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		switch v := s.(type) {
		case int:
			b.WriteString(strconv.Itoa(v))
		default:
			b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(fmt.Sprint(v)))
		}
	}
	return b.String()
}

// SetAnnotation returns the operations that set the annotation key to value on u.
func SetAnnotation(u *unstructured.Unstructured, key, value string) []Op {
	if u.GetAnnotations() == nil {
		return []Op{Add(Pointer("metadata", "annotations"), map[string]any{key: value})}
	}
	return []Op{Add(Pointer("metadata", "annotations", key), value)}
}

// RemoveAnnotation returns the operation that removes the annotation key from u, or
// none when u does not have it.
func RemoveAnnotation(u *unstructured.Unstructured, key string) []Op {
	if _, ok := u.GetAnnotations()[key]; !ok {
		return nil
	}
	return []Op{Remove(Pointer("metadata", "annotations", key))}
}

// PatchFunc returns the operations that change u as wanted, or none when u already
// is as wanted.
type PatchFunc func(u *unstructured.Unstructured) ([]Op, error)

// Patch reads the object name, asks fn for the operations and sends them as one JSON
// patch under fieldManager, preceded by a test of the resourceVersion read. When
// another writer changed the object first, it reads it again and asks fn again. It
// returns the stored object, or nil when fn asked for no change. A missing object is
// an error that apierrors.IsNotFound recognises.
func Patch(ctx context.Context, ri dynamic.ResourceInterface, name, fieldManager string, fn PatchFunc) (*unstructured.Unstructured, error) {
	backoff := firstBackoff
	for attempt := 1; ; attempt++ {
		u, err := ri.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		ops, err := fn(u)
		if err != nil || len(ops) == 0 {
			return nil, err
		}
		out, err := patchOnce(ctx, ri, u, fieldManager, ops)
		if err == nil {
			return out, nil
		}
		if attempt >= MaxAttempts || !lostRace(ctx, ri, u, err) {
			return nil, fmt.Errorf("patch %s (attempt %d): %w", name, attempt, err)
		}
		pause := backoff/2 + rand.N(backoff)
		backoff = min(2*backoff, maxBackoff)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pause):
		}
	}
}

func patchOnce(ctx context.Context, ri dynamic.ResourceInterface, u *unstructured.Unstructured, fieldManager string, ops []Op) (*unstructured.Unstructured, error) {
	guarded := append([]Op{Test(Pointer("metadata", "resourceVersion"), u.GetResourceVersion())}, ops...)
	body, err := json.Marshal(guarded)
	if err != nil {
		return nil, fmt.Errorf("encode patch: %w", err)
	}
	return ri.Patch(ctx, u.GetName(), types.JSONPatchType, body, metav1.PatchOptions{FieldManager: fieldManager})
}

// lostRace reports whether a failed patch failed because the object changed after
// it was read: a conflict, or a failed test (the API server answers 422, like a
// validation error, so the object is read again to tell them apart).
func lostRace(ctx context.Context, ri dynamic.ResourceInterface, read *unstructured.Unstructured, err error) bool {
	if apierrors.IsConflict(err) {
		return true
	}
	if !apierrors.IsInvalid(err) {
		return false
	}
	now, gerr := ri.Get(ctx, read.GetName(), metav1.GetOptions{})
	return gerr == nil && now.GetResourceVersion() != read.GetResourceVersion()
}

// ErrNotOwned is wrapped by ApplyOwned for an object of the name that sluice did not
// create.
var ErrNotOwned = errors.New("exists and was not created by sluice")

// ApplyOwned writes u, an object sluice owns for the service svc: it creates it with
// the owner marker when no object of its name exists, or server-side applies it under
// fieldManager (forcing, as sluice is its only writer) when sluice created the one
// that does. An object someone else created is left as it is, and ErrNotOwned
// returned.
func ApplyOwned(ctx context.Context, ri dynamic.ResourceInterface, u *unstructured.Unstructured, svc, fieldManager string) error {
	MarkOwned(u, svc)
	cur, err := ri.Get(ctx, u.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = ri.Create(ctx, u, metav1.CreateOptions{FieldManager: fieldManager})
		if !apierrors.IsAlreadyExists(err) {
			return wrapWrite("create", u, err)
		}
		cur, err = ri.Get(ctx, u.GetName(), metav1.GetOptions{})
	}
	if err != nil {
		return wrapWrite("get", u, err)
	}
	if !Owned(cur, svc, fieldManager) {
		return fmt.Errorf("%s %s %w", u.GetKind(), u.GetName(), ErrNotOwned)
	}
	_, err = ri.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
	return wrapWrite("apply", u, err)
}

func wrapWrite(verb string, u *unstructured.Unstructured, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s %s: %w", verb, u.GetKind(), u.GetName(), err)
}

// DeleteOwned deletes the object name when sluice created it for the service svc,
// guarded by its UID; an object someone else created, or none, is left alone.
func DeleteOwned(ctx context.Context, ri dynamic.ResourceInterface, name, svc, fieldManager string) error {
	u, err := ri.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", name, err)
	}
	if !Owned(u, svc, fieldManager) {
		return nil
	}
	uid := u.GetUID()
	err = ri.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete %s %s: %w", u.GetKind(), name, err)
	}
	return nil
}
