// Package routerd runs the builtin router as its own process (`sluice router`) and
// drives it from the server.
//
// A router process serves one environment's listen address with a
// builtin.Router, keeps its state (services, weights, rules, hosts, endpoints and
// a generation) in DIR/state.json, written atomically on every change, and
// answers an admin API on the unix socket DIR/router.sock (mode 0600, in a 0700
// directory, and only for peers of its own user or root). A router restarted on
// its own restores the last state before it listens, so it never answers a
// request it cannot route.
//
// `sluice router --upgrade` replaces a running router without refusing a
// connection: the new process asks the old one over DIR/handoff.sock for its
// listening sockets (passed with SCM_RIGHTS), serves them, and only then tells
// the old process to stop accepting and drain: in-flight requests finish and
// keep-alive clients are asked to reconnect. When the new process cannot start
// (a corrupt state file, say) the old one keeps serving.
//
// Client is the server's side: it starts a router process that outlives the
// server (its own session), or adopts the one already running after a server
// restart, and implements traffic.Router over the admin API with the weights read
// back from the router's live routing table.
package routerd
