package e2e

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/chromedp/chromedp"
)

// floorPage loads /main.wasm as the bar's loader does (compiled while it
// streams, wasm_exec.js alongside) and runs it.
const floorPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>floor</title>
<script src="/wasm_exec.js"></script>
<script>
const compiled = WebAssembly.compileStreaming(fetch('/main.wasm'));
compiled.then((m) => { const go = new Go(); return WebAssembly.instantiate(m, go.importObject).then((i) => go.run(i)); })
  .catch((e) => { window.floorError = String(e); });
</script></head><body></body></html>`

// BenchmarkGoWasmFloor is the floor under the bar's navigation-to-registered
// figure in this browser on this machine: from navigating a fresh profile
// to a page to main() running, for the smallest Go program (empty) and for
// one that only links the bar's heaviest dependencies and runs their
// package initializers (deps: pion/webrtc, sipgo's sip, coder/websocket,
// encoding/json, log/slog). Both are built as make wasm builds the bar.
func BenchmarkGoWasmFloor(b *testing.B) {
	skipWithoutBar(b)
	e := startEnv(b, nil)
	for _, prog := range []string{"empty", "deps"} {
		dir := b.TempDir()
		wasm := filepath.Join(dir, "main.wasm")
		build := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", wasm, "./testdata/floor/"+prog)
		build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "GOFLAGS=", "GOWASM=")
		build.Dir = filepath.Join(moduleRoot, "web", "e2e")
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("build %s: %v\n%s", prog, err, out)
		}
		st, err := os.Stat(wasm)
		if err != nil {
			b.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte(floorPage))
		})
		mux.HandleFunc("/main.wasm", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, wasm) })
		mux.HandleFunc("/wasm_exec.js", func(w http.ResponseWriter, r *http.Request) {
			http.ServeFile(w, r, filepath.Join(runtime.GOROOT(), "lib", "wasm", "wasm_exec.js"))
		})
		srv := httptest.NewServer(mux)
		b.Run(prog, func(b *testing.B) {
			var mains []float64
			for i := 0; i < b.N; i++ {
				br := e.newTab(b, "floor-"+prog)
				if err := chromedp.Do(br.ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
					b.Fatal(err)
				}
				eventually(b, waitTimeout, prog+"'s main", func() bool {
					return evalOK[bool](b, br, `window.floorError !== undefined || performance.getEntriesByName('floor:main').length > 0`)
				})
				if msg := evalOK[string](b, br, `window.floorError || ''`); msg != "" {
					b.Fatalf("%s: %s", prog, msg)
				}
				mains = append(mains, evalOK[float64](b, br, `performance.getEntriesByName('floor:main')[0].startTime`))
				br.close()
			}
			b.ReportMetric(median(mains), "ms/main")
			b.ReportMetric(float64(st.Size()), "wasm-bytes")
		})
		srv.Close()
	}
}
