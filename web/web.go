// Package web serves the agent bar to the browser: the page, its loader
// script and styles (embedded in the binary), and the built bar from
// web/dist (written by `make wasm`, never committed): the content-hashed
// .wasm, precompressed with brotli and gzip, and wasm_exec.js.
//
// The page is the bar in a tab and, with ?kiosk=1, the kiosk page. Until
// `make wasm` has run, the page says so and /bar.wasm answers 503.
package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"html"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// static holds the page, loader and styles. It is a package-level variable
// only because //go:embed requires one; nothing writes to it.
//
//go:embed static
var static embed.FS

// CSP is the page's Content-Security-Policy: only its own scripts, plus
// 'wasm-unsafe-eval' for WebAssembly compilation; WebSockets to its own
// origin; audio from MediaStreams.
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; " +
	"connect-src 'self' ws: wss:; media-src 'self' blob: mediastream:; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; frame-ancestors *"

// Manifest is what `make wasm` writes to web/dist/manifest.json.
type Manifest struct {
	Wasm     string `json:"wasm"`
	Size     int    `json:"size"`
	Gzip     int    `json:"gzip"`
	Brotli   int    `json:"br"`
	WasmExec string `json:"wasm_exec"`
	Go       string `json:"go"`
}

// Handler serves the bar, reading builds from dist. It answers GET and
// HEAD for /, /index.html, /kiosk, /bar.js, /bar.css, /bar.wasm, the hashed
// /bar.<hash>.wasm and /wasm_exec.<hash>.js; anything else is 404.
func Handler(dist string) http.Handler {
	return &handler{dist: dist}
}

type handler struct{ dist string }

// hashed reports whether name is prefix + 16 lowercase hex digits + suffix,
// the names `make wasm` gives builds.
func hashed(name, prefix, suffix string) bool {
	h, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return false
	}
	if h, ok = strings.CutSuffix(h, suffix); !ok || len(h) != 16 {
		return false
	}
	return strings.Trim(h, "0123456789abcdef") == ""
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	if !known(name) {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch {
	case name == "" || name == "index.html" || name == "kiosk":
		h.page(w, r)
	case name == "bar.js" || name == "bar.css":
		h.asset(w, r, name)
	case name == "bar.wasm":
		m, err := h.manifest()
		if err != nil {
			notBuilt(w)
			return
		}
		h.wasm(w, r, m.Wasm, false)
	case hashed(name, "bar.", ".wasm"):
		h.wasm(w, r, name, true)
	case hashed(name, "wasm_exec.", ".js"):
		h.file(w, r, name, "text/javascript; charset=utf-8")
	}
}

// known reports whether the handler serves name.
func known(name string) bool {
	switch name {
	case "", "index.html", "kiosk", "bar.js", "bar.css", "bar.wasm":
		return true
	}
	return hashed(name, "bar.", ".wasm") || hashed(name, "wasm_exec.", ".js")
}

// manifest reads the current build's manifest (small; read per request so
// a rebuild needs no restart).
func (h *handler) manifest() (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(h.dist, "manifest.json"))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, err
	}
	if !hashed(m.Wasm, "bar.", ".wasm") || !hashed(m.WasmExec, "wasm_exec.", ".js") {
		return m, errors.New("web: bad manifest")
	}
	return m, nil
}

func notBuilt(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, "the agent bar is not built: run make wasm", http.StatusServiceUnavailable)
}

// page renders the embedded page with the current build's file names.
func (h *handler) page(w http.ResponseWriter, r *http.Request) {
	b, err := fs.ReadFile(static, "static/index.html")
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	wasm, exec := "", ""
	if m, err := h.manifest(); err == nil {
		wasm, exec = "/"+m.Wasm, "/"+m.WasmExec
	}
	b = bytes.ReplaceAll(b, []byte("{{WASM}}"), []byte(html.EscapeString(wasm)))
	b = bytes.ReplaceAll(b, []byte("{{WASM_EXEC}}"), []byte(html.EscapeString(exec)))
	hd := w.Header()
	if wasm != "" {
		// Fetch both while the page is parsed, before the loader runs (it
		// compiles the preloaded wasm as it arrives).
		hd.Add("Link", "<"+wasm+">; rel=preload; as=fetch; crossorigin")
		hd.Add("Link", "<"+exec+">; rel=preload; as=script")
	}
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Permissions-Policy", "microphone=(self), speaker-selection=(self)")
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(b))
}

// asset serves an embedded file, revalidated on each load (ETag).
func (h *handler) asset(w http.ResponseWriter, r *http.Request, name string) {
	b, err := fs.ReadFile(static, "static/"+name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", strconv.Quote(strconv.FormatUint(uint64(len(b)), 36)+"-"+fnv(b)))
	hd.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

// file serves a hashed file of dist, cached for good.
func (h *handler) file(w http.ResponseWriter, r *http.Request, name, ctype string) {
	f, err := os.Open(filepath.Join(h.dist, name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			notBuilt(w)
			return
		}
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	hd := w.Header()
	hd.Set("Content-Type", ctype)
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	hd.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, name, time.Time{}, f)
}

// wasm serves a build of the bar as application/wasm, brotli or gzip
// encoded when the browser accepts it. Hashed names never change and are
// cached for good; /bar.wasm is revalidated.
func (h *handler) wasm(w http.ResponseWriter, r *http.Request, name string, immutable bool) {
	hd := w.Header()
	hd.Add("Vary", "Accept-Encoding")
	path := filepath.Join(h.dist, name)
	var (
		f   *os.File
		err error
	)
	for _, enc := range acceptedEncodings(r.Header.Get("Accept-Encoding")) {
		ext := map[string]string{"br": ".br", "gzip": ".gz"}[enc]
		if f, err = os.Open(path + ext); err == nil {
			if enc != "" {
				hd.Set("Content-Encoding", enc)
			}
			break
		}
	}
	if f == nil {
		if name == "bar.wasm" || errors.Is(err, fs.ErrNotExist) {
			notBuilt(w)
			return
		}
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	hd.Set("Content-Type", "application/wasm")
	hd.Set("X-Content-Type-Options", "nosniff")
	if immutable {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	hd.Set("ETag", strconv.Quote(strings.TrimSuffix(name, ".wasm")+"-"+hd.Get("Content-Encoding")))
	// ServeContent with a name that has no extension of its own keeps our
	// Content-Type.
	http.ServeContent(w, r, "", time.Time{}, f)
}

// acceptedEncodings lists the encodings to try, best first: br, gzip
// when the Accept-Encoding header allows them (q > 0), then identity ("").
func acceptedEncodings(header string) []string {
	ok := map[string]bool{}
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		q := 1.0
		if v, found := strings.CutPrefix(strings.TrimSpace(params), "q="); found {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if coding == "*" {
			ok["br"], ok["gzip"] = q > 0, q > 0
			continue
		}
		ok[coding] = q > 0
	}
	var out []string
	for _, enc := range []string{"br", "gzip"} {
		if ok[enc] {
			out = append(out, enc)
		}
	}
	return append(out, "")
}

// fnv is a short FNV-1a hash for ETags of embedded files.
func fnv(b []byte) string {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return strconv.FormatUint(h, 36)
}
