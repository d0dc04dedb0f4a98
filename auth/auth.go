package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
)

// ErrUnauthorized is every reason a token is not accepted: missing,
// malformed, expired, wrongly signed, wrong algorithm, no subject.
var ErrUnauthorized = errors.New("auth: unauthorized")

// minKeyLen is the shortest acceptable HS256 key, in bytes (RFC 7518 §3.2).
const minKeyLen = 32

// Keys signs and verifies tokens with one HS256 key.
type Keys struct {
	key     []byte
	issuer  string
	now     func() time.Time
	options []jwt.ParserOption

	// verified holds tokens whose signature and form were checked, by the
	// token itself, with their claims: a client sends the same token with
	// every request, and checking its signature again is most of a
	// request's cost on a short path. A hit still checks the times.
	verified *lru.Cache[string, *jwt.RegisteredClaims]
	times    *jwt.Validator
}

// verifiedTokens bounds Keys.verified: a token is about 200 bytes.
const verifiedTokens = 4096

// New returns Keys for key (at least 32 bytes). now is the clock (time.Now if nil).
func New(key []byte, now func() time.Time) (*Keys, error) {
	if len(key) < minKeyLen {
		return nil, fmt.Errorf("auth: signing key is %d bytes, want at least %d", len(key), minKeyLen)
	}
	if now == nil {
		now = time.Now
	}
	verified, err := lru.New[string, *jwt.RegisteredClaims](verifiedTokens)
	if err != nil {
		return nil, err
	}
	options := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(now),
	}
	return &Keys{key: key, issuer: "billing", now: now, options: options,
		verified: verified, times: jwt.NewValidator(options...)}, nil
}

// ErrNoKey: the data dir holds no key (serve creates it on first start).
var ErrNoKey = errors.New("auth: no token key")

// LoadKey returns the configured secret when set, otherwise the key stored
// in dataDir, and where it came from (the file, or BILLING_JWT_SECRET). A
// data dir without a key is ErrNoKey: nothing is created.
func LoadKey(secret, dataDir string) (key []byte, from string, err error) {
	if secret != "" {
		return []byte(secret), "BILLING_JWT_SECRET", nil
	}
	path := filepath.Join(dataDir, "jwt.key")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, path, fmt.Errorf("%w in %s", ErrNoKey, path)
	}
	if err != nil {
		return nil, path, fmt.Errorf("auth: read key: %w", err)
	}
	key, err = hex.DecodeString(strings.TrimSpace(string(b)))
	return key, path, err
}

// LoadOrCreateKey returns the configured secret when set; otherwise the key
// stored in dataDir, generating it on first use (readable by the owner only).
func LoadOrCreateKey(secret, dataDir string) ([]byte, error) {
	if secret != "" {
		return []byte(secret), nil
	}
	path := filepath.Join(dataDir, "jwt.key")
	b, err := os.ReadFile(path)
	if err == nil {
		return hex.DecodeString(strings.TrimSpace(string(b)))
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("auth: read key: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, err
	}
	// O_EXCL: two processes starting at once agree on whichever key won.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadOrCreateKey("", dataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: create key: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return key, f.Close()
}

// Issue returns a token for userID valid for ttl.
func (k *Keys) Issue(userID string, ttl time.Duration) (string, error) {
	if userID == "" {
		return "", errors.New("auth: user id is empty")
	}
	now := k.now()
	claims := jwt.RegisteredClaims{
		Subject:   userID,
		Issuer:    k.issuer,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(k.key)
}

// Verify returns the user id of a valid token, or ErrUnauthorized (wrapped
// with the reason). Only HS256 is accepted: "none" and every other algorithm
// are refused before the signature is looked at; exp is required.
func (k *Keys) Verify(token string) (string, error) {
	if claims, ok := k.verified.Get(token); ok {
		if err := k.times.Validate(claims); err != nil {
			return "", fmt.Errorf("%w: %s", ErrUnauthorized, reason(err))
		}
		return claims.Subject, nil
	}
	claims := &jwt.RegisteredClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return k.key, nil }, k.options...)
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrUnauthorized, reason(err))
	}
	if claims.Subject == "" {
		return "", fmt.Errorf("%w: token has no subject", ErrUnauthorized)
	}
	k.verified.Add(token, claims)
	return claims.Subject, nil
}

// reason says, for a person, why a token was refused.
func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the token has expired"
	case errors.Is(err, jwt.ErrTokenUnverifiable), strings.Contains(err.Error(), "signing method"):
		return "unsupported signing method: only HS256 is accepted"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "bad signature: the token was signed with another key (another data dir's jwt.key, or another BILLING_JWT_SECRET)"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "the token is not valid yet"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "the token lacks a required claim (exp)"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "the token is not billing's (issuer)"
	}
	return err.Error()
}
