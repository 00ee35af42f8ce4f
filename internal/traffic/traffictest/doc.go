// Package traffictest is the conformance suite every traffic.Router implementation
// must pass.
//
// The suite checks the contract of the interface, not any one implementation:
//
//   - After Ensure, SetWeights then Weights reads back exactly what was written, for
//     every split from all green to all blue.
//   - Weights outside 0..100 or not summing to 100 are refused with an error, and the
//     split in force does not change.
//   - SetWeights repeated with the same key is harmless: it returns nil and the split
//     stays what the first call wrote.
//   - Ensure is idempotent: a second Ensure of the same route keeps the split in force.
//   - Weights of a service never ensured, or released, is an error or the documented
//     default (Config.UnknownDefault).
//   - Release removes what Ensure created; releasing twice, or a service never
//     ensured, succeeds; a released service can be ensured again.
//   - A call made with a cancelled context returns an error and has no effect.
//   - Concurrent SetWeights calls leave one of the written splits in force.
//
// For routers that also write A/B match rules (Istio, Gateway API), WithMatch runs
// the suite with rules in place, and MatchRulesStay checks on the API server that
// moving the weights leaves the rules alone and that an Ensure without rules removes
// them.
package traffictest
