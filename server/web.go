package server

import (
	"net/http"
	"os"
	"path/filepath"

	"github.com/agentbar/agentbar/web"
)

// webHandler serves the agent bar at / (package web): the embedded page
// and the build `make wasm` wrote to web/dist. The build is looked up in
// AGENTBAR_WEB_DIST, else web/dist under the working directory or the
// nearest parent that has one (so tests running in a package directory
// find it too).
func webHandler() http.Handler {
	return web.Handler(webDist())
}

func webDist() string {
	if d := os.Getenv("AGENTBAR_WEB_DIST"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		return filepath.Join("web", "dist")
	}
	for {
		d := filepath.Join(dir, "web", "dist")
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return filepath.Join("web", "dist")
		}
		dir = parent
	}
}
