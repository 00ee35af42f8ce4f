package store

import (
	"errors"
	"time"
)

// Delivery is a webhook delivery a trigger accepted, kept so that a replay of it is
// recognised and refused.
type Delivery struct {
	Trigger string // WORKFLOW/TRIGGER
	ID      string // the sender's delivery id
	At      time.Time
}

// ErrDuplicate says a delivery with the same trigger and id was already claimed.
var ErrDuplicate = errors.New("already received")

// DeliveryRetention is how long claimed deliveries are kept: longer than any sender
// redelivers (GitHub allows redelivery for three days).
const DeliveryRetention = 30 * 24 * time.Hour
