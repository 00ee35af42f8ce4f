// Package endtoend holds end-to-end tests of verification through a whole
// sluice server (the engine, the local platform, the builtin router and its
// provider): background analysis failing during a wait step, and a canary at
// low traffic. It has no code of its own.
package endtoend
