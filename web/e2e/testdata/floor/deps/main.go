// Command deps is the bar's heaviest dependencies and nothing else: their
// package initializers run, then main marks the moment it runs
// (BenchmarkGoWasmFloor).
package main

import (
	_ "encoding/json"
	_ "log/slog"
	"syscall/js"

	_ "github.com/coder/websocket"
	_ "github.com/emiago/sipgo/sip"
	_ "github.com/pion/webrtc/v3"
)

func main() {
	js.Global().Get("performance").Call("mark", "floor:main")
}
