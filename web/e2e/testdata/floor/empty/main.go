// Command empty is the smallest Go program in the browser: it marks the
// moment its main runs (BenchmarkGoWasmFloor).
package main

import "syscall/js"

func main() {
	js.Global().Get("performance").Call("mark", "floor:main")
}
