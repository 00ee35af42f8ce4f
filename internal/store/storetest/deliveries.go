package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/store"
)

// deliveryClaimer is the store method triggers use to refuse replays.
type deliveryClaimer interface {
	ClaimDelivery(ctx context.Context, d store.Delivery) (store.Delivery, error)
}

// testDeliveries checks that a delivery id is claimed once per trigger (also by
// concurrent claimers), that the duplicate answer carries the first claim's time, and
// that claims older than the retention are dropped.
func testDeliveries(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	c, ok := s.(deliveryClaimer)
	if !ok {
		t.Fatalf("%T has no ClaimDelivery", s)
	}
	d := store.Delivery{Trigger: "shop/ci", ID: "build-87", At: at(10)}
	if _, err := c.ClaimDelivery(ctx, d); err != nil {
		t.Fatalf("first claim: %v", err)
	}
	again := d
	again.At = at(20)
	first, err := c.ClaimDelivery(ctx, again)
	if !errors.Is(err, store.ErrDuplicate) || !first.At.Equal(at(10)) {
		t.Fatalf("second claim: %v, first at %v; want ErrDuplicate and %v", err, first.At, at(10))
	}
	if _, err := c.ClaimDelivery(ctx, store.Delivery{Trigger: "shop/registry", ID: "build-87", At: at(30)}); err != nil {
		t.Fatalf("the same id for another trigger: %v", err)
	}

	var wg sync.WaitGroup
	wins := make(chan struct{}, 8)
	for range 8 {
		wg.Go(func() {
			_, err := c.ClaimDelivery(ctx, store.Delivery{Trigger: "shop/ci", ID: "race", At: at(40)})
			switch {
			case err == nil:
				wins <- struct{}{}
			case !errors.Is(err, store.ErrDuplicate):
				t.Errorf("concurrent claim: %v", err)
			}
		})
	}
	wg.Wait()
	if len(wins) != 1 {
		t.Fatalf("%d concurrent claims of one id won, want 1", len(wins))
	}

	later := at(50).Add(store.DeliveryRetention + time.Hour)
	if _, err := c.ClaimDelivery(ctx, store.Delivery{Trigger: "shop/ci", ID: "new", At: later}); err != nil {
		t.Fatalf("claim after the retention: %v", err)
	}
	if _, err := c.ClaimDelivery(ctx, store.Delivery{Trigger: "shop/ci", ID: "build-87", At: later}); err != nil {
		t.Fatalf("an id older than the retention is forgotten, but its claim failed: %v", err)
	}
}
