// Package auth is the authentication of the agentbar proxy: short-lived
// agent JWTs (issued by the proxy itself or minted by a CRM, and verified
// here) and ephemeral SIP credentials in the TURN-REST style that
// Kamailio's auth_ephemeral module checks.
//
// # Agent tokens
//
// A [Verifier] accepts a token only when it is signed with an algorithm
// pinned to a configured key (HS256 for the shared HMAC key, EdDSA for an
// Ed25519 public key, RS256 for an RSA public key), carries an expiry, names
// the configured issuer and audience, names an agent in its subject, and
// does not live longer than the configured maximum. An [Issuer] mints the
// proxy's own HS256 tokens.
//
// # SIP credentials
//
// [NewSIPCredentials] hands an agent a username of the form
// "<unix expiry>:<agent>" and the password base64(HMAC-SHA1(secret,
// username)). The registrar recomputes the password from the username with
// the same secret ([SIPPassword]) and refuses the username once its expiry
// has passed ([CheckSIPUsername]).
//
// # Errors
//
// Refusals are [*Error] values carrying a stable [Code]. Their messages
// are fixed per code and never quote the token or credential refused.
package auth
