package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/auth"
)

// FuzzAuthenticate: no string but the real secret authenticates, and none panics.
func FuzzAuthenticate(f *testing.F) {
	f.Add("sluice_000000000000_" + strings.Repeat("a", 43))
	f.Add("sluice__")
	f.Add("")
	f.Add("Bearer x")
	svc, _ := newService(f)
	real, _, err := svc.CreateToken(context.Background(), auth.NewToken{User: "alice"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(real[:len(real)-1] + "A")
	f.Fuzz(func(t *testing.T, secret string) {
		if secret == real {
			return
		}
		if _, err := svc.Authenticate(context.Background(), secret); !errors.Is(err, auth.ErrBadToken) {
			t.Fatalf("%q: %v", secret, err)
		}
	})
}
