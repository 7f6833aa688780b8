// Package wasm is the agent bar that runs in the browser as Go compiled to
// WebAssembly. It holds no code itself:
//
//   - wasm/core: the pure-Go logic (agent and call state folded from the
//     control channel's events, allowed controls, view model, strings in
//     English and Chinese, MOS), tested natively;
//   - wasm/cmd/bar: the js/wasm program, the thin syscall/js layer (DOM,
//     control channel, SIP soft phone, WebRTC audio through pion and the
//     browser's APIs) and the window.agentbar JavaScript API;
//   - wasm/internal/distbuild: the build step of `make wasm` (content hash,
//     gzip and brotli copies, manifest) that fills web/dist.
//
// Size is a budget: `make wasm` refuses a bar over 1.6 MB brotli
// (WASM_MAX_BR). About 1.2 MB of it is the floor of the required parts,
// mostly the standard library's crypto, math/big and encoding/gob that
// pion's packages and sipgo import (their package initializers keep them
// in); an empty Go program is 0.44 MB. What the bar adds is kept small by
// importing nothing heavy that the page has in JavaScript: the browser's
// fetch instead of net/http's client (which brings a native HTTP/TLS
// stack), no regexp in the browser path (sip/check matches by hand), and
// pion's gathering-state event instead of the candidate callback that
// parses every candidate with pion's ICE code.
package wasm
