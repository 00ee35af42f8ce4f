// Package platformtest is the conformance suite every platform.Platform implementation
// must pass.
//
// The suite checks the contract of the interface, not any one implementation:
//
//   - Deploy returns once the change is accepted; Status then reaches Ready == Desired.
//   - A call repeated with a key that already took effect changes nothing: a second
//     Deploy with the same key keeps the same instances (not restarted), even if the
//     repeated request differs; the same holds for Scale and Remove.
//   - Scale moves a slot up, down and to zero; a slot scaled to zero still exists
//     (Status reports its artifact with Desired 0).
//   - Status of a slot that was never deployed, or was removed, is the zero SlotStatus
//     and no error.
//   - Remove of an unknown or already removed slot succeeds.
//   - Scale of an unknown slot to a positive count is an error; to zero it succeeds.
//   - The two slots of a service are independent.
//   - A call made with a cancelled context returns an error that wraps ctx.Err() and
//     has no effect.
//   - When Config.NeverReady is set, a slot running it never counts as ready and its
//     Status says why (Reasons or Failed) within Config.ReadyTimeout.
package platformtest
