// Package web will embed the static assets the server serves to the browser:
// the bar and kiosk pages, the embed loader, styles, wasm_exec.js and the
// built .wasm. It arrives with the browser agent bar issue; today it is empty.
package web
