package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/traffic"
)

// definitionReader reads stored environments; the store is one.
type definitionReader interface {
	GetDefinition(ctx context.Context, kind store.Kind, name string, version int64) (store.Definition, error)
}

// liveReader returns the API's read-back of a service: the weights its environment's
// router really has and what the platform runs in each slot, through the same
// runtime the engine uses, so every surface that says what is live (UI, `sluice get
// services`, the follow's final frame) asks the data plane rather than a record.
func liveReader(res engine.Resolver, st definitionReader) api.LiveReader {
	return func(ctx context.Context, envName, service string) (api.LiveReadBack, error) {
		def, err := st.GetDefinition(ctx, store.KindEnvironment, envName, 0)
		if errors.Is(err, store.ErrNotFound) {
			return api.LiveReadBack{}, fmt.Errorf("read back %s: environment %s does not exist", service, envName)
		}
		if err != nil {
			return api.LiveReadBack{}, fmt.Errorf("read back %s: environment %s: %w", service, envName, err)
		}
		env, err := spec.ParseEnvironment(envName, []byte(def.Source))
		if err != nil {
			return api.LiveReadBack{}, fmt.Errorf("read back %s: environment %s: %w", service, envName, err)
		}
		rt, err := res.Resolve(ctx, envName, env)
		if err != nil {
			return api.LiveReadBack{}, fmt.Errorf("read back %s: environment %s: %w", service, envName, err)
		}
		return readBack(ctx, rt, service)
	}
}

// readBack asks the router for the split and the platform for each slot.
func readBack(ctx context.Context, rt engine.Runtime, service string) (api.LiveReadBack, error) {
	w, err := rt.Router.Weights(ctx, traffic.ServiceRef{Service: service})
	if err != nil {
		return api.LiveReadBack{}, fmt.Errorf("read back %s: router weights: %w", service, err)
	}
	rb := api.LiveReadBack{Weights: w, Slots: map[platform.Slot]platform.SlotStatus{}}
	for _, s := range []platform.Slot{platform.Green, platform.Blue} {
		ss, err := rt.Platform.Status(ctx, platform.SlotRef{Service: service, Slot: s})
		if err != nil {
			return api.LiveReadBack{}, fmt.Errorf("read back %s: platform status of %s: %w", service, s, err)
		}
		rb.Slots[s] = ss
	}
	return rb, nil
}
