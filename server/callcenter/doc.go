// Package callcenter is the built-in contact center that makes agentbar run
// with no vendor account: a SIP registrar and back-to-back user agent on
// sipgo (UDP and TCP, optionally WebSocket), an ACD that hands each customer
// call to the longest-idle ready agent of its queue, agent states with an
// automatic wrap-up timer, the CTI operations behind the proxy's "local"
// adapter, simulated customers, and a SIP trunk where any SIP phone (or
// SIPp) can dial a queue.
//
// # Model
//
// A [CallCenter] keeps one model of agents, queues and calls under one
// lock. A call joins parties in one media bridge: external parties (a
// simulated customer, a customer on the trunk, a dialled number) and agent
// legs, each leg being a SIP dialog from the B2BUA to the agent's registered
// phone. The call ends when its customers have left, or when fewer than two
// parties remain. SIP signalling and media work run outside the lock.
//
// Agents sign in with [CallCenter.SignIn] and drive their state and calls
// with [AgentSession.Do], taking the neutral commands of package gateway
// and producing its events; [CallCenter.Gateway] wraps the whole as a
// gateway.Gateway for the proxy.
//
// # Media
//
// The package does not move audio itself. It declares what it needs
// ([MediaFactory], [Port], [Bridge], [AgentLeg], [TrunkLeg]) and takes a
// factory in [Config]; the server wires the real media engine in with a
// thin adapter. [FakeMedia], the default, writes plain SDP and produces
// silence, which is what the tests use.
//
// # Phones
//
// Agents' phones register (digest MD5, qop=auth) under their agent ID.
// The password check is a hook, [Config.SIPPassword], so the proxy can hand
// out ephemeral credentials ("<expiry>:<agent>" usernames). Path (RFC 3327)
// is honoured: a call to the agent is routed through the Path URIs, which is
// how it reaches a browser behind the proxy's WebSocket edge.
package callcenter
