// Package core is the agent bar's logic without a browser: the wire types
// of the control channel, the agent and call state folded from its events
// (the hello snapshot, agent.state, call.*), the event sequence kept for
// resuming after a reconnect, which controls the agent may use right now,
// the view model the page renders (with the statistics strip from
// get_stats), what the bar does about session notices (renewing the token
// without a password), the English and Chinese (zh-CN) strings, the
// reconnect backoff and the E-model MOS estimate.
//
// It is pure Go and tested natively; the syscall/js layer in
// wasm/cmd/bar only renders what it computes and carries out commands.
package core
