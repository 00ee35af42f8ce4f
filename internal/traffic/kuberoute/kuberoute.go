package kuberoute

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/sluicehq/sluice/internal/kube"
	"github.com/sluicehq/sluice/internal/traffic"
)

// Entry is the entry of a routing object whose destinations carry the split: an
// Istio VirtualService's route or an HTTPRoute's rule.
type Entry struct {
	Path  []any          // the entry's JSON pointer segments, such as "spec", "rules", 0
	Field string         // the entry's member that lists its destinations: "route", "backendRefs"
	Value map[string]any // the entry as read
}

// Destinations returns the entry's destinations as read.
func (e Entry) Destinations() []any {
	d, _ := e.Value[e.Field].([]any)
	return d
}

// Where names the entry for messages: "spec.http[0]".
func (e Entry) Where() string {
	var b strings.Builder
	for _, s := range e.Path {
		if i, ok := s.(int); ok {
			b.WriteString("[" + strconv.Itoa(i) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		fmt.Fprint(&b, s)
	}
	return b.String()
}

// Routes is what a router knows of its routing object: which entry carries the split
// for a service, and how that entry's destinations read and write.
type Routes interface {
	// Entry returns the entry of u whose weights sluice owns for the service svc.
	Entry(u *unstructured.Unstructured, svc string) (Entry, error)
	// Weights reads the split from the entry's destinations.
	Weights(e Entry, svc string) (traffic.Weights, error)
	// WithWeights returns the entry's destinations with the split w.
	WithWeights(e Entry, svc string, w traffic.Weights) []any
}

// EntryFunc returns the new destinations of the entry e of u (nil for no change) and
// any other operations to send with them.
type EntryFunc func(u *unstructured.Unstructured, e Entry) ([]any, []kube.Op)

// Check refuses new destinations of the entry e before they are written.
type Check func(e Entry, dests []any) error

// Prepare reads what a Check needs before a write; it returns a nil Check when
// there is nothing to check.
type Prepare func(ctx context.Context) (Check, error)

// Writer reads and writes the split in one router's routing objects.
type Writer struct {
	Router         string                           // the router's name, prefixing the errors of Weights and SetWeights: "istio"
	Kind           string                           // the object's kind in words, naming it in errors: "virtual service"
	Resource       func() dynamic.ResourceInterface // the objects' client
	Routes         Routes                           // the router-specific part
	FieldManager   string                           // the field manager of every write
	KeysAnnotation string                           // the annotation holding SetWeights' recent idempotency keys
	ErrNotEnsured  error                            // returned for an object that does not exist
	Log            *slog.Logger                     // receives what the writer does; must not be nil
}

// Weights reads the split of the service svc from the object name stored by the API
// server.
func (k *Writer) Weights(ctx context.Context, name, svc string) (traffic.Weights, error) {
	if err := ctx.Err(); err != nil {
		return traffic.Weights{}, fmt.Errorf("%s: weights %s: %w", k.Router, svc, err)
	}
	w, err := k.read(ctx, name, svc)
	if err != nil {
		return traffic.Weights{}, fmt.Errorf("%s: weights %s: %w", k.Router, svc, err)
	}
	return w, nil
}

func (k *Writer) read(ctx context.Context, name, svc string) (traffic.Weights, error) {
	u, err := k.Resource().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return traffic.Weights{}, k.ErrNotEnsured
	}
	if err != nil {
		return traffic.Weights{}, err
	}
	return k.WeightsIn(u, svc)
}

// WeightsIn reads the split of the service svc from the object u.
func (k *Writer) WeightsIn(u *unstructured.Unstructured, svc string) (traffic.Weights, error) {
	e, err := k.Routes.Entry(u, svc)
	if err != nil {
		return traffic.Weights{}, err
	}
	return k.Routes.Weights(e, svc)
}

// SetWeights writes the split w of the service svc into the object name's entry,
// retrying on conflicts, and reads it back. The write is a JSON patch of that entry's
// destinations only, skipped when the object already holds key. prepare, when not
// nil, runs after w is checked and before anything is read, and returns the check of
// the destinations written.
func (k *Writer) SetWeights(ctx context.Context, name, svc string, w traffic.Weights, key string, prepare Prepare) error {
	if err := k.setWeights(ctx, name, svc, w, key, prepare); err != nil {
		return fmt.Errorf("%s: set weights %s %s: %w", k.Router, svc, w, err)
	}
	return nil
}

func (k *Writer) setWeights(ctx context.Context, name, svc string, w traffic.Weights, key string, prepare Prepare) error {
	if err := w.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var check Check
	if prepare != nil {
		var err error
		if check, err = prepare(ctx); err != nil {
			return err
		}
	}
	written, err := k.Patch(ctx, name, svc, check, func(u *unstructured.Unstructured, e Entry) ([]any, []kube.Op) {
		keys := u.GetAnnotations()[k.KeysAnnotation]
		if kube.HasKey(keys, key) {
			return nil, nil
		}
		var keyOps []kube.Op
		if key != "" {
			keyOps = kube.SetAnnotation(u, k.KeysAnnotation, kube.WithKey(keys, key))
		}
		return k.Routes.WithWeights(e, svc, w), keyOps
	})
	if err != nil || written == nil {
		return err
	}
	return k.verify(ctx, svc, written, w)
}

// Patch changes the destinations of the entry whose weights sluice owns, and nothing
// else of it, with a JSON patch guarded by the resourceVersion read and, for a named
// entry, by a test of its name. The route lists of both kinds of object are atomic
// in their CRD's schema, so the write makes sluice the field manager of the whole
// list; the patch still changes only the one entry's destinations. check, when not
// nil, refuses destinations before they are sent. It returns the stored object, or
// nil when fn asked for no change.
func (k *Writer) Patch(ctx context.Context, name, svc string, check Check, fn EntryFunc) (*unstructured.Unstructured, error) {
	out, err := kube.Patch(ctx, k.Resource(), name, k.FieldManager, func(u *unstructured.Unstructured) ([]kube.Op, error) {
		e, err := k.Routes.Entry(u, svc)
		if err != nil {
			return nil, err
		}
		dests, extra := fn(u, e)
		if dests == nil {
			return extra, nil
		}
		if check != nil {
			if err := check(e, dests); err != nil {
				return nil, fmt.Errorf("%s %s: %w", k.Kind, name, err)
			}
		}
		var ops []kube.Op
		if n, ok := e.Value["name"].(string); ok {
			ops = append(ops, kube.Test(kube.Pointer(slices.Concat(e.Path, []any{"name"})...), n))
		}
		ops = append(ops, kube.Add(kube.Pointer(slices.Concat(e.Path, []any{e.Field})...), dests))
		return append(ops, extra...), nil
	})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%s %s: %w", k.Kind, name, k.ErrNotEnsured)
	}
	return out, err
}

// verify reads the object back: unless another writer changed it since, it must hold
// exactly the split written.
func (k *Writer) verify(ctx context.Context, svc string, written *unstructured.Unstructured, w traffic.Weights) error {
	u, err := k.Resource().Get(ctx, written.GetName(), metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	if u.GetResourceVersion() != written.GetResourceVersion() {
		k.Log.Info("weights changed again after this write", "service", svc, "written", w.String())
		return nil
	}
	got, err := k.WeightsIn(u, svc)
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	if got != w {
		return fmt.Errorf("read back %s after writing %s", got, w)
	}
	return nil
}

// Current returns the split of the service's generated object (named after the
// service), or def when there is none yet or its split cannot be read. An object of
// that name that sluice did not create is an error naming adoptWith, the settings
// that would adopt it: sluice neither takes it over nor overwrites it.
func (k *Writer) Current(ctx context.Context, svc string, def traffic.Weights, adoptWith string) (traffic.Weights, error) {
	u, err := k.Resource().Get(ctx, svc, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return def, nil
	}
	if err != nil {
		return def, fmt.Errorf("get %s %s: %w", k.Kind, svc, err)
	}
	if !kube.Owned(u, svc, k.FieldManager) {
		return def, fmt.Errorf("%s %s %w (adopt it with %s and the annotation %s: \"true\", or remove it)",
			k.Kind, svc, kube.ErrNotOwned, adoptWith, kube.AnnotationAdopt)
	}
	if w, err := k.WeightsIn(u, svc); err == nil {
		return w, nil
	}
	return def, nil
}

// errNotAdoptable says an object lacks the adoption annotation.
var errNotAdoptable = errors.New("not marked for adoption (annotation " + kube.AnnotationAdopt + `: "true")`)

// CheckAdoptable reads the object name to adopt and reports why it cannot be:
// missing, without the adoption annotation, or without the entry for the service.
func (k *Writer) CheckAdoptable(ctx context.Context, name, svc string) error {
	u, err := k.Resource().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%s %s to adopt: %w", k.Kind, name, k.ErrNotEnsured)
	}
	if err != nil {
		return fmt.Errorf("get %s %s: %w", k.Kind, name, err)
	}
	if !kube.Adoptable(u) {
		return fmt.Errorf("%s %s: %w", k.Kind, name, errNotAdoptable)
	}
	_, err = k.Routes.Entry(u, svc)
	return err
}

// ForgetKeys removes SetWeights' idempotency keys from the adopted object name,
// leaving its routes as they are so the live slot keeps its traffic; a missing object
// is no error.
func (k *Writer) ForgetKeys(ctx context.Context, name string) error {
	_, err := kube.Patch(ctx, k.Resource(), name, k.FieldManager, func(u *unstructured.Unstructured) ([]kube.Op, error) {
		return kube.RemoveAnnotation(u, k.KeysAnnotation), nil
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
