// Package server wires the agentbar process: configuration, the HTTP surface
// (health, readiness, metrics, sign-in, the control channel, the SIP edge,
// demo calls) over the event log and the gateway, and the built-in call
// center with real media (server/callcenter, server/media). The binary is
// server/cmd/agentbar.
package server
