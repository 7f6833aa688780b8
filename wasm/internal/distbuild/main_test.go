package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

func TestRun(t *testing.T) {
	dir, dist := t.TempDir(), filepath.Join(t.TempDir(), "dist")
	raw := bytes.Repeat([]byte("\x00asm-agentbar-"), 1000)
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	in := write("bar.wasm", string(raw))
	page := write("index.html", `<html data-wasm="{{WASM}}" data-wasm-exec="{{WASM_EXEC}}">`)
	exec := write("wasm_exec.js", "// wasm_exec")
	if err := os.MkdirAll(dist, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dist, "bar.00000000000000aa.wasm.br")
	os.WriteFile(stale, []byte("old"), 0o644)

	if err := run(in, dist, page, exec, 0); err != nil {
		t.Fatal(err)
	}
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dist, "manifest.json"))
	if err != nil || json.Unmarshal(b, &m) != nil {
		t.Fatalf("manifest: %v %s", err, b)
	}
	if !strings.HasPrefix(m.Wasm, "bar.") || len(m.Wasm) != len("bar.0123456789abcdef.wasm") || m.Size != len(raw) {
		t.Fatalf("manifest %+v", m)
	}
	got, _ := os.ReadFile(filepath.Join(dist, m.Wasm))
	if !bytes.Equal(got, raw) {
		t.Fatal("hashed wasm differs from the input")
	}
	gz, _ := os.ReadFile(filepath.Join(dist, m.Wasm+".gz"))
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	if un, _ := io.ReadAll(zr); !bytes.Equal(un, raw) || len(gz) != m.Gzip {
		t.Fatal("gzip copy does not round-trip")
	}
	br, _ := os.ReadFile(filepath.Join(dist, m.Wasm+".br"))
	if un, _ := io.ReadAll(brotli.NewReader(bytes.NewReader(br))); !bytes.Equal(un, raw) || len(br) != m.Brotli {
		t.Fatal("brotli copy does not round-trip")
	}
	html, _ := os.ReadFile(filepath.Join(dist, "index.html"))
	if want := `data-wasm="/` + m.Wasm + `" data-wasm-exec="/` + m.WasmExec + `"`; !strings.Contains(string(html), want) {
		t.Fatalf("page %s, want %s", html, want)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatal("a stale build was kept")
	}
	if _, err := os.Stat(in); !os.IsNotExist(err) {
		t.Fatal("the input was not consumed")
	}
}

func TestBudget(t *testing.T) {
	dir, dist := t.TempDir(), filepath.Join(t.TempDir(), "dist")
	in, page, exec := filepath.Join(dir, "bar.wasm"), filepath.Join(dir, "index.html"), filepath.Join(dir, "wasm_exec.js")
	// 4 kB of a pattern brotli cannot squeeze under 100 bytes.
	raw := make([]byte, 4096)
	for i := range raw {
		raw[i] = byte(i*7919 ^ i>>3*31)
	}
	for p, body := range map[string][]byte{in: raw, page: []byte("{{WASM}}"), exec: []byte("//")} {
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	err := run(in, dist, page, exec, 100)
	if err == nil || !strings.Contains(err.Error(), "over the budget of 100 bytes") {
		t.Fatalf("run with a budget of 100 bytes: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dist, "manifest.json")); !os.IsNotExist(err) {
		t.Fatal("a build over budget was written")
	}
	if _, err := os.Stat(in); err != nil {
		t.Fatal("a build over budget was consumed")
	}
	if err := run(in, dist, page, exec, 1<<20); err != nil {
		t.Fatalf("run within budget: %v", err)
	}
}
