package secrets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/sluicehq/sluice/internal/spec"
)

// ErrNotSet says the variable or file a reference names does not exist or is empty.
var ErrNotSet = errors.New("secret not set")

// Getter reads one key of a Kubernetes Secret. Its errors need not name the
// reference (Resolve adds it) and never contain a value.
type Getter interface {
	Get(ctx context.Context, namespace, name, key string) ([]byte, error)
}

// Resolver turns references into values and registers each value with its Redactor.
type Resolver struct {
	// Kube reads references to Kubernetes Secrets; nil: such references are an error.
	Kube Getter
	// Namespace is where a Secret reference without a namespace looks.
	Namespace string
	// Getenv reads environment variables; os.Getenv when nil.
	Getenv func(string) string
	// ReadFile reads files; os.ReadFile when nil.
	ReadFile func(string) ([]byte, error)
	// Redactor learns every resolved value; Default when nil.
	Redactor *Redactor
}

// Resolve returns the value ref points at. Errors name the reference, never a value.
// A file's trailing newline is dropped, as files written with echo have one.
func (r *Resolver) Resolve(ctx context.Context, ref spec.SecretRef) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	var v string
	switch {
	case ref.Env != "" && ref.File != "":
		return "", fmt.Errorf("secrets: reference names both env %s and file %s; use one", ref.Env, ref.File)
	case ref.Secret != nil && (ref.Env != "" || ref.File != ""):
		return "", fmt.Errorf("secrets: reference names a Kubernetes %s and an env or file; use one", ref.Secret)
	case ref.Secret != nil:
		var err error
		if v, err = r.kube(ctx, *ref.Secret); err != nil {
			return "", err
		}
	case ref.Env != "":
		getenv := r.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		if v = getenv(ref.Env); v == "" {
			return "", fmt.Errorf("secrets: environment variable %s: %w", ref.Env, ErrNotSet)
		}
	case ref.File != "":
		read := r.ReadFile
		if read == nil {
			read = os.ReadFile
		}
		b, err := read(ref.File)
		if err != nil {
			return "", fmt.Errorf("secrets: file %s: %w", ref.File, errors.Join(ErrNotSet, err))
		}
		if v = strings.TrimRight(string(b), "\r\n"); v == "" {
			return "", fmt.Errorf("secrets: file %s is empty: %w", ref.File, ErrNotSet)
		}
	default:
		return "", errors.New("secrets: empty reference; set env, file or secret")
	}
	red := r.Redactor
	if red == nil {
		red = Default
	}
	red.Add(v)
	return v, nil
}

// kube reads a key of a Kubernetes Secret, in r.Namespace unless ref names one.
func (r *Resolver) kube(ctx context.Context, ref spec.KubernetesSecretRef) (string, error) {
	if ref.Namespace == "" {
		ref.Namespace = r.Namespace
	}
	if r.Kube == nil {
		return "", fmt.Errorf("secrets: %s: Kubernetes Secrets need an environment on the kubernetes platform: %w", ref, ErrNotSet)
	}
	b, err := r.Kube.Get(ctx, ref.Namespace, ref.Name, ref.Key)
	if err != nil {
		return "", fmt.Errorf("secrets: %s: %w: %w", ref, ErrNotSet, err)
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return "", fmt.Errorf("secrets: %s is empty: %w", ref, ErrNotSet)
	}
	return v, nil
}

// Resolve resolves ref from the process environment and files into Default.
func Resolve(ctx context.Context, ref spec.SecretRef) (string, error) {
	return (&Resolver{}).Resolve(ctx, ref)
}
