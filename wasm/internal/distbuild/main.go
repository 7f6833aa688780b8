// Command distbuild turns a freshly built bar.wasm into what the server
// serves from web/dist: the content-hashed bar.<hash>.wasm with gzip and
// brotli copies beside it (served per Accept-Encoding), wasm_exec.js from
// the Go toolchain the bar was built with, a static copy of the page with
// the hashed name filled in (for hosting the bar from any file server), and
// manifest.json, which the server reads to find the current build.
//
// It runs from `make wasm`:
//
//	go run ./wasm/internal/distbuild -in web/dist/bar.wasm.tmp -dist web/dist -max-br 1600000 \
//	    -page web/static/index.html -wasm-exec $(go env GOROOT)/lib/wasm/wasm_exec.js
//
// Older hashed builds in dist are removed; the input file is consumed. A
// build whose brotli copy is larger than -max-br bytes is refused and dist
// is left as it was: the size of the bar is a budget, kept by make wasm.
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/andybalholm/brotli"
)

// Manifest is web/dist/manifest.json; package web reads the same fields.
type Manifest struct {
	Wasm     string `json:"wasm"`      // bar.<hash>.wasm
	Size     int    `json:"size"`      // bytes, uncompressed
	Gzip     int    `json:"gzip"`      // bytes of .gz
	Brotli   int    `json:"br"`        // bytes of .br
	WasmExec string `json:"wasm_exec"` // wasm_exec.<hash>.js
	Go       string `json:"go"`        // toolchain that ran distbuild
}

func main() {
	in := flag.String("in", "", "the built wasm (consumed)")
	dist := flag.String("dist", "web/dist", "output directory")
	page := flag.String("page", "web/static/index.html", "the page to render a static copy of")
	wasmExec := flag.String("wasm-exec", filepath.Join(runtime.GOROOT(), "lib", "wasm", "wasm_exec.js"), "wasm_exec.js of the toolchain that built the wasm")
	maxBr := flag.Int("max-br", 0, "refuse a build whose brotli copy is larger than this many bytes (0: no limit)")
	flag.Parse()
	if err := run(*in, *dist, *page, *wasmExec, *maxBr); err != nil {
		fmt.Fprintln(os.Stderr, "distbuild:", err)
		os.Exit(1)
	}
}

func run(in, dist, page, wasmExec string, maxBr int) error {
	raw, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	exec, err := os.ReadFile(wasmExec)
	if err != nil {
		return err
	}
	m := Manifest{
		Wasm:     "bar." + shortHash(raw) + ".wasm",
		Size:     len(raw),
		WasmExec: "wasm_exec." + shortHash(exec) + ".js",
		Go:       runtime.Version(),
	}
	gz, err := gzipped(raw)
	if err != nil {
		return err
	}
	br, err := brotlied(raw)
	if err != nil {
		return err
	}
	m.Gzip, m.Brotli = len(gz), len(br)
	if maxBr > 0 && m.Brotli > maxBr {
		return fmt.Errorf("%s: %d bytes, gzip %d, brotli %d: over the budget of %d bytes brotli", in, m.Size, m.Gzip, m.Brotli, maxBr)
	}
	html, err := os.ReadFile(page)
	if err != nil {
		return err
	}
	html = bytes.ReplaceAll(html, []byte("{{WASM}}"), []byte("/"+m.Wasm))
	html = bytes.ReplaceAll(html, []byte("{{WASM_EXEC}}"), []byte("/"+m.WasmExec))
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dist, 0o755); err != nil {
		return err
	}
	keep := map[string]bool{m.Wasm: true, m.Wasm + ".gz": true, m.Wasm + ".br": true, m.WasmExec: true}
	for name, data := range map[string][]byte{
		m.Wasm: raw, m.Wasm + ".gz": gz, m.Wasm + ".br": br, m.WasmExec: exec, "index.html": html,
	} {
		if err := writeAtomic(filepath.Join(dist, name), data); err != nil {
			return err
		}
	}
	// The manifest last: the server switches to the new build only once
	// every file of it is in place.
	if err := writeAtomic(filepath.Join(dist, "manifest.json"), append(manifest, '\n')); err != nil {
		return err
	}
	old, _ := filepath.Glob(filepath.Join(dist, "bar.*.wasm*"))
	olderExec, _ := filepath.Glob(filepath.Join(dist, "wasm_exec.*.js"))
	for _, p := range append(old, olderExec...) {
		if !keep[filepath.Base(p)] {
			os.Remove(p)
		}
	}
	if filepath.Clean(in) != filepath.Join(dist, m.Wasm) {
		os.Remove(in)
	}
	fmt.Printf("%s: %d bytes, gzip %d, brotli %d\n", filepath.Join(dist, m.Wasm), m.Size, m.Gzip, m.Brotli)
	return nil
}

// shortHash is the first 16 hex digits of the SHA-256 of data.
func shortHash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:16]
}

func gzipped(data []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	err = w.Close()
	return b.Bytes(), err
}

func brotlied(data []byte) ([]byte, error) {
	var b bytes.Buffer
	w := brotli.NewWriterLevel(&b, brotli.BestCompression)
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	err := w.Close()
	return b.Bytes(), err
}

// writeAtomic writes through a temporary file and a rename, so the server
// never serves half a file.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if strings.HasSuffix(path, ".tmp") {
		tmp = path + "~"
	}
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
