package core

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Saved is what a bar keeps in the tab's sessionStorage so that a reload
// comes back signed in: the session token from /v1/session (never the
// password) with its expiry, and who it is for. The resume point, the
// last event seq, is kept beside it (see ParseSeq) since it changes with
// every event.
type Saved struct {
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
	Agent   string    `json:"agent"`
	Name    string    `json:"name,omitempty"`
}

// savedMargin is how long before its expiry a saved token is no longer
// worth resuming with.
const savedMargin = 5 * time.Second

// ParseSaved reads a saved session; ok is false when s is empty or not one.
func ParseSaved(s string) (Saved, bool) {
	var v Saved
	if strings.TrimSpace(s) == "" || json.Unmarshal([]byte(s), &v) != nil || v.Token == "" || v.Agent == "" {
		return Saved{}, false
	}
	return v, true
}

// Encode is the saved session as stored.
func (s Saved) Encode() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Usable tells whether the token can still open the control channel at now.
func (s Saved) Usable(now time.Time) bool {
	return s.Token != "" && (s.Expires.IsZero() || now.Add(savedMargin).Before(s.Expires))
}

// ParseSeq reads a stored sequence number, 0 when there is none.
func ParseSeq(s string) uint64 {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0
	}
	return n
}
