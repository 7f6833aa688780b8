// Package e2e holds the end-to-end tests of the agent bar: real headless
// Chromium (driven with chromedp) loads the bar that the agentbar server
// serves at /, against the real server and its built-in call center, with
// WebRTC audio from Chromium's fake capture device.
//
// The harness (harness_test.go) starts the server in-process on a loopback
// listener, launches Chromium with the flags that make WebRTC work headless
// as root, opens each bar in its own browser context (an isolated,
// incognito-like profile), calls window.agentbar's methods and waits for
// its events. A self-test page served by the harness proves the harness
// (getUserMedia, an RTCPeerConnection loopback, the control channel) even
// before the bar is built.
//
// TestBrowserHuawei runs the bar the same way through the Huawei CEC
// adapter and its CC-Gateway emulator (gateway.kind huawei, demo mode),
// with the pages' network traffic recorded for a scan for CTI secrets.
//
// The bar's tests skip when web/dist holds no built bar (run `make wasm`
// first); a missing Chromium fails them: install the Debian package
// chromium. AGENTBAR_SCREENSHOT=1 makes TestBrowserCall write docs/bar.png.
// E2E_LOGS=1 prints the server's and the browser's logs of passing tests
// too.
package e2e
