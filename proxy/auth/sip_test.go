package auth

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSIPPasswordVector(t *testing.T) {
	secret := []byte("agentbar-sip-test-secret")
	const username = "1700003600:agent-7"
	// Independent computations: crypto/hmac here, and openssl:
	//   printf %s 1700003600:agent-7 | openssl dgst -sha1 -hmac agentbar-sip-test-secret -binary | base64
	m := hmac.New(sha1.New, secret)
	m.Write([]byte(username))
	tests := []struct {
		name, want string
	}{
		{"crypto/hmac", base64.StdEncoding.EncodeToString(m.Sum(nil))},
		{"openssl", "U5OeQqZIPmI04+7nV0cr3hZ7kFE="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SIPPassword(secret, username); got != tt.want {
				t.Fatalf("SIPPassword = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewSIPCredentials(t *testing.T) {
	secret := []byte("agentbar-sip-test-secret")
	tests := []struct {
		name     string
		agent    string
		ttl      time.Duration
		now      time.Time
		username string
		password string
	}{
		{"vector", "agent-7", time.Hour, time.Unix(1_700_000_000, 0), "1700003600:agent-7", "U5OeQqZIPmI04+7nV0cr3hZ7kFE="},
		{"fraction rounds down", "agent-7", time.Hour, time.Unix(1_700_000_000, 999_999_999), "1700003600:agent-7", "U5OeQqZIPmI04+7nV0cr3hZ7kFE="},
		{"colon in agent", "a:b", time.Minute, time.Unix(1_700_000_000, 0), "1700000060:a:b", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewSIPCredentials(secret, tt.agent, tt.ttl, tt.now)
			if c.Username != tt.username {
				t.Errorf("username = %q, want %q", c.Username, tt.username)
			}
			if tt.password != "" && c.Password != tt.password {
				t.Errorf("password = %q, want %q", c.Password, tt.password)
			}
			if c.Password != SIPPassword(secret, c.Username) {
				t.Errorf("password does not match SIPPassword")
			}
			if want := time.Unix(tt.now.Add(tt.ttl).Unix(), 0); !c.Expires.Equal(want) {
				t.Errorf("expires = %v, want %v", c.Expires, want)
			}
			agent, err := CheckSIPUsername(c.Username, tt.now)
			if err != nil || agent != tt.agent {
				t.Errorf("CheckSIPUsername = %q, %v; want %q", agent, err, tt.agent)
			}
			if _, err := CheckSIPUsername(c.Username, c.Expires.Add(time.Second)); !errors.Is(err, CodeSIPExpired) {
				t.Errorf("after expiry: err = %v, want %s", err, CodeSIPExpired)
			}
		})
	}
}

func TestCheckSIPUsername(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name     string
		username string
		now      time.Time
		agent    string
		want     Code
	}{
		{"valid", "1700003600:agent-7", now, "agent-7", ""},
		{"valid at the expiry second", "1700000000:agent-7", now.Add(999 * time.Millisecond), "agent-7", ""},
		{"colon in agent", "1700003600:a:b", now, "a:b", ""},
		{"max uint32", "4294967295:x", now, "x", ""},
		{"eleven digits", "01700003600:x", now, "", CodeSIPMalformed},
		{"expired by a second", "1699999999:agent-7", now, "", CodeSIPExpired},
		{"expired long ago", "1:agent-7", now, "", CodeSIPExpired},
		{"empty", "", now, "", CodeSIPMalformed},
		{"no colon", "1700003600", now, "", CodeSIPMalformed},
		{"no expiry", ":agent-7", now, "", CodeSIPMalformed},
		{"no agent", "1700003600:", now, "", CodeSIPMalformed},
		{"agent first", "agent-7:1700003600", now, "", CodeSIPMalformed},
		{"negative", "-1700003600:agent-7", now, "", CodeSIPMalformed},
		{"plus sign", "+1700003600:agent-7", now, "", CodeSIPMalformed},
		{"hex", "0x65537d10:agent-7", now, "", CodeSIPMalformed},
		{"space in expiry", "1700003600 :agent-7", now, "", CodeSIPMalformed},
		{"beyond uint32", "4294967296:x", now, "", CodeSIPMalformed},
		{"huge", "99999999999999999999999:x", now, "", CodeSIPMalformed},
		{"space in agent", "1700003600:agent 7", now, "", CodeSIPMalformed},
		{"control in agent", "1700003600:agent\r\n7", now, "", CodeSIPMalformed},
		{"DEL in agent", "1700003600:agent\x7f", now, "", CodeSIPMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agent, err := CheckSIPUsername(tt.username, tt.now)
			if got := CodeOf(err); got != tt.want {
				t.Fatalf("code = %q (%v), want %q", got, err, tt.want)
			}
			if agent != tt.agent {
				t.Errorf("agent = %q, want %q", agent, tt.agent)
			}
			if err != nil && len(tt.username) > 4 && strings.Contains(err.Error(), tt.username) {
				t.Errorf("error message contains the username")
			}
		})
	}
}
