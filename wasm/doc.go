// Package wasm will hold the agent bar app compiled to WebAssembly: a pure-Go
// core (agent and call state, commands, view model) and the thin syscall/js
// layer (DOM, getUserMedia, audio elements, getStats) with WebRTC on pion.
// It arrives with the browser agent bar issue; today it is empty.
package wasm
