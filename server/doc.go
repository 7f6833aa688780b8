// Package server will be the agentbar binary's wiring and the built-in call
// center (registrar and B2BUA on sipgo, media on pion, an ACD, simulated
// customers, vendor emulators). It arrives with the server issue; today it
// is empty.
package server
