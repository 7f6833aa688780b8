package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	testWasm = "bar.0123456789abcdef.wasm"
	testExec = "wasm_exec.fedcba9876543210.js"
)

// built writes a fake build into a temporary dist directory.
func built(t *testing.T) string {
	t.Helper()
	dist := t.TempDir()
	m, _ := json.Marshal(Manifest{Wasm: testWasm, WasmExec: testExec, Size: 4})
	for name, body := range map[string]string{
		"manifest.json": string(m), testWasm: "\x00asm", testWasm + ".gz": "gzip-bytes",
		testWasm + ".br": "brotli-bytes", testExec: "// go",
	} {
		if err := os.WriteFile(filepath.Join(dist, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dist
}

func get(t *testing.T, h http.Handler, method, path, acceptEncoding string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	if acceptEncoding != "" {
		r.Header.Set("Accept-Encoding", acceptEncoding)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestBuiltBar(t *testing.T) {
	h := Handler(built(t))
	tests := []struct {
		name, method, path, ae string
		code                   int
		body, ctype, enc, cc   string
	}{
		{"page", "GET", "/", "", 200, `data-wasm="/` + testWasm + `"`, "text/html; charset=utf-8", "", "no-cache"},
		{"kiosk", "GET", "/kiosk", "", 200, `data-wasm-exec="/` + testExec + `"`, "text/html; charset=utf-8", "", "no-cache"},
		{"brotli", "GET", "/" + testWasm, "gzip, deflate, br", 200, "brotli-bytes", "application/wasm", "br", "public, max-age=31536000, immutable"},
		{"gzip", "GET", "/" + testWasm, "gzip", 200, "gzip-bytes", "application/wasm", "gzip", "public, max-age=31536000, immutable"},
		{"br refused", "GET", "/" + testWasm, "br;q=0, gzip;q=0.5", 200, "gzip-bytes", "application/wasm", "gzip", "public, max-age=31536000, immutable"},
		{"identity", "GET", "/" + testWasm, "", 200, "\x00asm", "application/wasm", "", "public, max-age=31536000, immutable"},
		{"current build", "GET", "/bar.wasm", "br", 200, "brotli-bytes", "application/wasm", "br", "no-cache"},
		{"wasm_exec", "GET", "/" + testExec, "", 200, "// go", "text/javascript; charset=utf-8", "", "public, max-age=31536000, immutable"},
		{"loader", "GET", "/bar.js", "", 200, "WebAssembly.compileStreaming(fetch(wasm))", "text/javascript; charset=utf-8", "", "no-cache"},
		{"styles", "GET", "/bar.css", "", 200, ".kiosk", "text/css; charset=utf-8", "", "no-cache"},
		{"old hash gone", "GET", "/bar.00000000000000ff.wasm", "", 503, "make wasm", "", "", "no-store"},
		{"unknown", "GET", "/nope", "", 404, "", "", "", ""},
		{"traversal", "GET", "/bar.../manifest.json", "", 404, "", "", "", ""},
		{"post", "POST", "/", "", 405, "", "", "", ""},
		{"head", "HEAD", "/" + testWasm, "br", 200, "", "application/wasm", "br", "public, max-age=31536000, immutable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := get(t, h, tt.method, tt.path, tt.ae)
			if w.Code != tt.code || !strings.Contains(w.Body.String(), tt.body) {
				t.Fatalf("%s %s: %d %q, want %d with %q", tt.method, tt.path, w.Code, w.Body.String(), tt.code, tt.body)
			}
			hd := w.Header()
			if tt.ctype != "" && hd.Get("Content-Type") != tt.ctype {
				t.Errorf("Content-Type %q, want %q", hd.Get("Content-Type"), tt.ctype)
			}
			if hd.Get("Content-Encoding") != tt.enc {
				t.Errorf("Content-Encoding %q, want %q", hd.Get("Content-Encoding"), tt.enc)
			}
			if tt.cc != "" && hd.Get("Cache-Control") != tt.cc {
				t.Errorf("Cache-Control %q, want %q", hd.Get("Cache-Control"), tt.cc)
			}
		})
	}
	// The page has the browser fetch the wasm and wasm_exec.js while it
	// parses, before the loader script runs.
	links := get(t, h, "GET", "/", "").Header().Values("Link")
	if want := []string{"</" + testWasm + ">; rel=preload; as=fetch; crossorigin", "</" + testExec + ">; rel=preload; as=script"}; !slices.Equal(links, want) {
		t.Errorf("Link %q, want %q", links, want)
	}
	csp := get(t, h, "GET", "/", "").Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "'wasm-unsafe-eval'") || strings.Contains(csp, "'unsafe-eval'") || strings.Contains(csp, "'unsafe-inline'") {
		t.Errorf("CSP %q", csp)
	}
}

func TestNotBuilt(t *testing.T) {
	h := Handler(t.TempDir())
	if w := get(t, h, "GET", "/bar.wasm", ""); w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "run make wasm") {
		t.Fatalf("/bar.wasm before make wasm: %d %q", w.Code, w.Body.String())
	}
	w := get(t, h, "GET", "/", "")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `data-wasm=""`) {
		t.Fatalf("page before make wasm: %d", w.Code)
	}
	if l := w.Header().Values("Link"); len(l) != 0 {
		t.Errorf("page before make wasm preloads %q", l)
	}
}

func TestAcceptedEncodings(t *testing.T) {
	tests := map[string][]string{
		"":                   {""},
		"gzip":               {"gzip", ""},
		"br, gzip":           {"br", "gzip", ""},
		"gzip;q=1.0, br;q=0": {"gzip", ""},
		"*":                  {"br", "gzip", ""},
		"identity":           {""},
		"BR":                 {"br", ""},
	}
	for header, want := range tests {
		if got := acceptedEncodings(header); !slices.Equal(got, want) {
			t.Errorf("acceptedEncodings(%q) = %q, want %q", header, got, want)
		}
	}
}
