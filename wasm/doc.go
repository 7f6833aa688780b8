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
package wasm
