package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Test cards of api.md.
const (
	visa         = "4242424242424242"
	mastercard   = "5555555555554444"
	declines     = "4000000000000341"
	insufficient = "4000000000009995"
	rejected     = "4000000000000002"
)

func TestAuthentication(t *testing.T) {
	s := startService(t, t.TempDir())
	expired, _ := s.Keys.Issue("alice", -time.Minute)
	for name, header := range map[string]string{
		"no header":    "",
		"not bearer":   "Basic YWxpY2U6c2VjcmV0",
		"malformed":    "Bearer not-a-token",
		"expired":      "Bearer " + expired,
		"wrong key":    "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.c2lnbmVkLXdpdGgtYW5vdGhlci1rZXk",
		"empty bearer": "Bearer ",
	} {
		c := &client{t: t, s: s}
		a := c.call(http.MethodGet, "/v1/me/wallet/orders", nil, "Authorization", header)
		if code, _ := a.errCode(); a.status != http.StatusUnauthorized || code != "unauthorized" {
			t.Errorf("%s: got %d %s, want 401 unauthorized", name, a.status, a.body)
		}
	}
	anon := &client{t: t, s: s}
	anon.want(anon.call(http.MethodGet, "/v1/plans", nil), http.StatusOK, "")
}

func TestSavingCardsThroughTheSandboxPage(t *testing.T) {
	s := startService(t, t.TempDir())
	alice := s.user(t, "alice")

	setup := alice.startSetup()
	if !strings.HasPrefix(setup.ID, "cs_") || setup.URL == "" || !setup.ExpiresAt.After(time.Now()) {
		t.Fatalf("setup session = %+v", setup)
	}
	page, err := http.Get(setup.URL)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	for _, field := range []string{`name="card_number"`, `name="exp_month"`, `name="exp_year"`, `name="cvc"`} {
		if page.StatusCode != http.StatusOK || !strings.Contains(string(html), field) {
			t.Fatalf("GET the page: %d, form lacks %s", page.StatusCode, field)
		}
	}
	if resp := submitCard(t, setup.URL, rejected); resp.StatusCode != http.StatusPaymentRequired {
		t.Fatalf("a card rejected on the page answered %d, want 402", resp.StatusCode)
	}
	if resp := submitCard(t, setup.URL, visa); resp.StatusCode != http.StatusOK {
		t.Fatalf("the session stays open after a rejected card: a valid one answered %d", resp.StatusCode)
	}
	if resp := submitCard(t, setup.URL, mastercard); resp.StatusCode < 400 || resp.StatusCode > 499 {
		t.Fatalf("a completed session answered %d, want 4xx", resp.StatusCode)
	}

	var got struct {
		Data    []paymentMethod
		HasMore bool `json:"has_more"`
	}
	alice.want(alice.call(http.MethodGet, "/v1/me/payment-methods", nil), http.StatusOK, "").decode(t, &got)
	if len(got.Data) != 1 || got.Data[0].Brand != "visa" || got.Data[0].Last4 != "4242" ||
		got.Data[0].ExpMonth != 12 || got.Data[0].ExpYear != 2034 || !strings.HasPrefix(got.Data[0].ID, "pm_") || got.HasMore {
		t.Fatalf("cards listed = %+v, want the one visa 4242 once", got)
	}

	bob := s.user(t, "bob")
	bob.want(bob.call(http.MethodGet, "/v1/me/payment-methods", nil), http.StatusOK, "").decode(t, &got)
	if len(got.Data) != 0 {
		t.Fatalf("bob sees alice's cards: %+v", got.Data)
	}
}

func TestPaymentMethodPages(t *testing.T) {
	s := startService(t, t.TempDir())
	alice := s.user(t, "alice")
	var saved []string
	for _, card := range []string{visa, mastercard, declines} {
		saved = append(saved, alice.saveCard(card))
	}
	var seen []string
	cursor := ""
	for {
		var page struct {
			Data       []paymentMethod
			HasMore    bool   `json:"has_more"`
			NextCursor string `json:"next_cursor"`
		}
		alice.want(alice.call(http.MethodGet, "/v1/me/payment-methods?limit=2&cursor="+cursor, nil), http.StatusOK, "").decode(t, &page)
		for _, pm := range page.Data {
			seen = append(seen, pm.ID)
		}
		if !page.HasMore {
			if page.NextCursor != "" {
				t.Fatal("next_cursor on the last page")
			}
			break
		}
		cursor = page.NextCursor
	}
	want := []string{saved[2], saved[1], saved[0]} // newest first
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Fatalf("paged through %v, want %v", seen, want)
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=ten", "cursor=tampered", "cursor=" + cursor + "x"} {
		a := alice.call(http.MethodGet, "/v1/me/payment-methods?"+q, nil)
		if code, _ := a.errCode(); a.status != http.StatusBadRequest || code != "invalid_request" {
			t.Errorf("?%s: got %d %s, want 400 invalid_request", q, a.status, a.body)
		}
	}
}

func TestSetupSessionValidation(t *testing.T) {
	s := startService(t, t.TempDir())
	alice := s.user(t, "alice")
	alice.want(alice.call(http.MethodPost, "/v1/me/payment-methods", `{"return_url":"ftp://x"}`), http.StatusUnprocessableEntity, "validation_failed")
	alice.want(alice.call(http.MethodPost, "/v1/me/payment-methods", `{"return_url":5}`), http.StatusBadRequest, "invalid_request")
	alice.want(alice.call(http.MethodPost, "/v1/me/payment-methods", `{"return_url":`), http.StatusBadRequest, "invalid_request")
	var setup setupAnswer
	alice.want(alice.call(http.MethodPost, "/v1/me/payment-methods", `{"return_url":"https://app.example/cards"}`), http.StatusCreated, "").decode(t, &setup)
	resp := submitCard(t, setup.URL, visa)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "https://app.example/cards" {
		t.Fatalf("with a return_url the page answered %d to %q, want 303 there", resp.StatusCode, resp.Header.Get("Location"))
	}
}
