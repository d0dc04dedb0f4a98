package auth_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/robotlabor/billing/auth"
)

var (
	now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	key = []byte("0123456789abcdef0123456789abcdef")
)

func keys(t *testing.T, k []byte) *auth.Keys {
	t.Helper()
	ks, err := auth.New(k, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func TestIssuedTokenVerifies(t *testing.T) {
	ks := keys(t, key)
	tok, err := ks.Issue("user_42", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ks.Verify(tok)
	if err != nil || got != "user_42" {
		t.Fatalf("Verify = %q, %v; want user_42", got, err)
	}
}

// TestVerifiedTokenStillExpires: a token accepted once (and remembered as
// verified) is refused once it expires, and refused before it is issued
// if the clock goes back; a refused token is not remembered as good.
func TestVerifiedTokenStillExpires(t *testing.T) {
	clock := now
	ks, err := auth.New(key, func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := ks.Issue("user_42", time.Hour)
	for _, step := range []struct {
		at     time.Time
		accept bool
	}{
		{now, true}, {now.Add(59 * time.Minute), true}, {now.Add(time.Hour + time.Second), false},
		{now.Add(-time.Minute), false}, {now, true},
	} {
		clock = step.at
		sub, err := ks.Verify(tok)
		if accepted := err == nil && sub == "user_42"; accepted != step.accept {
			t.Errorf("at %v: Verify = %q, %v; want accepted %v", step.at, sub, err, step.accept)
		}
	}
	clock = now.Add(2 * time.Hour)
	late, _ := ks.Issue("user_42", -time.Minute)
	clock = now
	if _, err := ks.Verify(late); !errors.Is(err, auth.ErrUnauthorized) {
		t.Fatalf("a token issued in the future verified: %v", err)
	}
}

func TestRefusedTokens(t *testing.T) {
	ks := keys(t, key)
	good, _ := ks.Issue("user_42", time.Hour)
	expired, _ := ks.Issue("user_42", -time.Minute)
	otherKey, _ := keys(t, []byte(strings.Repeat("x", 32))).Issue("user_42", time.Hour)
	noSub, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}).SignedString(key)
	noExp, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Subject: "u"}).SignedString(key)
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.RegisteredClaims{Subject: "u", ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}).SignedString(key)
	parts := strings.Split(good, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin","exp":9999999999}`)) + "." + parts[2]

	// Each refusal says why, so a person can tell a stale token from one
	// made with another data dir's key.
	for name, tc := range map[string]struct{ tok, why string }{
		"empty":                   {"", "malformed"},
		"garbage":                 {"not.a.jwt", "malformed"},
		"expired":                 {expired, "expired"},
		"signed with another key": {otherKey, "another key"},
		"no subject":              {noSub, "no subject"},
		"no expiry":               {noExp, "exp"},
		"alg none":                {none, "HS256"},
		"alg HS512":               {hs512, "HS256"},
		"tampered claims":         {tampered, "another key"},
	} {
		sub, err := ks.Verify(tc.tok)
		if !errors.Is(err, auth.ErrUnauthorized) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%s: Verify = %q, %v; want ErrUnauthorized saying %q", name, sub, err, tc.why)
		}
	}
}

func TestKeyIsCreatedOnceInTheDataDir(t *testing.T) {
	dir := t.TempDir()
	first, err := auth.LoadOrCreateKey("", dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := auth.LoadOrCreateKey("", dir)
	if err != nil || string(first) != string(again) || len(first) != 32 {
		t.Fatalf("second load gave a different or short key (%d bytes), %v", len(again), err)
	}
	secret, _ := auth.LoadOrCreateKey("from-env-from-env-from-env-123456", dir)
	if string(secret) != "from-env-from-env-from-env-123456" {
		t.Fatal("BILLING_JWT_SECRET did not take precedence")
	}
}

func TestShortKeysAreRefused(t *testing.T) {
	if _, err := auth.New([]byte("short"), nil); err == nil {
		t.Fatal("a 5-byte HS256 key was accepted")
	}
}
