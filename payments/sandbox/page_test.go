package sandbox

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/robotlabor/billing/payments"
)

func TestTestCardsSaveAndChargeAsTheTableSays(t *testing.T) {
	tests := []struct {
		name       string
		number     string
		wantStatus int    // of the page's POST
		wantCode   string // on the page when refused, or of the charge when declined
		wantBrand  string
		wantCharge payments.Status
	}{
		{"visa", "4242424242424242", http.StatusOK, "", "visa", payments.Succeeded},
		{"mastercard", "5555555555554444", http.StatusOK, "", "mastercard", payments.Succeeded},
		{"saved, charges declined", "4000000000000341", http.StatusOK, payments.CodeCardDeclined, "visa", payments.Failed},
		{"saved, insufficient funds", "4000000000009995", http.StatusOK, payments.CodeInsufficientFunds, "visa", payments.Failed},
		{"declined on the page", "4000000000000002", http.StatusPaymentRequired, payments.CodeCardDeclined, "", ""},
		{"other visa", "4111111111111111", http.StatusOK, "", "visa", payments.Succeeded},
		{"2-series mastercard", "2223003122003222", http.StatusOK, "", "mastercard", payments.Succeeded},
		{"amex", "378282246310005", http.StatusOK, "", "amex", payments.Succeeded},
		{"unknown brand", "6011111111111117", http.StatusOK, "", "unknown", payments.Succeeded},
		{"typed with spaces and dashes", "4242 4242-4242 4242", http.StatusOK, "", "visa", payments.Succeeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			cus := e.customer()
			ss := e.session(cus, "")

			got := e.post(e.pageURL(ss), typedCard(tt.number))

			if got.status != tt.wantStatus {
				t.Fatalf("POST status = %d, want %d; body:\n%s", got.status, tt.wantStatus, got.body)
			}
			if digits := strings.NewReplacer(" ", "", "-", "").Replace(tt.number); strings.Contains(got.body, digits) {
				t.Errorf("the page echoes the card number")
			}
			if tt.wantStatus != http.StatusOK {
				if !strings.Contains(got.body, `data-code="`+tt.wantCode+`"`) || !strings.Contains(got.body, `name="card_number"`) {
					t.Errorf("refusal page lacks the form or code %s:\n%s", tt.wantCode, got.body)
				}
				if n := len(e.inbox.events()); n != 0 || e.count("payment_methods") != 0 {
					t.Errorf("a refused card was saved (%d completions)", n)
				}
				if still := e.get(e.pageURL(ss)); still.status != http.StatusOK {
					t.Errorf("after a refusal GET = %d, want 200 (session open)", still.status)
				}
				return
			}
			events := e.inbox.events()
			if len(events) != 1 {
				t.Fatalf("completions delivered = %d, want 1", len(events))
			}
			ev := events[0]
			wantCard := payments.Card{ProviderPaymentMethodID: ev.Card.ProviderPaymentMethodID, Brand: tt.wantBrand,
				Last4: tt.number[len(tt.number)-4:], ExpMonth: 12, ExpYear: 2030}
			if ev.Card != wantCard || !strings.HasPrefix(ev.Card.ProviderPaymentMethodID, "pm_sbx_") {
				t.Errorf("card = %+v, want %+v", ev.Card, wantCard)
			}
			if ev.ProviderSessionID != ss.ProviderSessionID || ev.CustomerID != cus || ev.UserID != "user_1" || ev.SessionID == "" ||
				!strings.HasPrefix(ev.ProviderEventID, "evt_sbx_") {
				t.Errorf("completion = %+v", ev)
			}
			if !strings.Contains(got.body, "Card saved") || !strings.Contains(got.body, ev.Card.Last4) {
				t.Errorf("success page:\n%s", got.body)
			}

			charge, err := e.sb.Charge(context.Background(), payments.Charge{CustomerID: cus, PaymentMethodID: ev.Card.ProviderPaymentMethodID,
				Amount: 4900, Currency: "usd", OrderID: "ord_1", IdempotencyKey: e.key()})
			if err != nil {
				t.Fatalf("Charge: %v", err)
			}
			if charge.Status != tt.wantCharge || charge.FailureCode != tt.wantCode || !strings.HasPrefix(charge.ProviderPaymentID, "pi_sbx_") {
				t.Errorf("charge = %+v, want status %s, code %q, a pi_sbx_ id", charge, tt.wantCharge, tt.wantCode)
			}
			if charge.Status == payments.Failed && charge.FailureMessage == "" {
				t.Errorf("a declined charge has no message")
			}
		})
	}
}

func TestMalformedCardIsRefusedAndTheSessionStaysOpen(t *testing.T) {
	with := func(fieldValues ...string) url.Values {
		f := typedCard("4242424242424242")
		for i := 0; i < len(fieldValues); i += 2 {
			f.Set(fieldValues[i], fieldValues[i+1])
		}
		return f
	}
	tests := []struct {
		name     string
		form     url.Values
		wantCode string
		wantText string
	}{
		{"Luhn failure", with("card_number", "4242424242424241"), "incorrect_number", "card number is invalid"},
		{"too short", with("card_number", "42424242424"), "incorrect_number", "card number is invalid"},
		{"letters", with("card_number", "4242abcd42424242"), "incorrect_number", "card number is invalid"},
		{"empty", url.Values{}, "incorrect_number", "card number is invalid"},
		{"month 13", with("exp_month", "13"), "invalid_expiry_month", "expiration month is invalid"},
		{"three-digit year", with("exp_year", "203"), "invalid_expiry_year", "expiration year is invalid"},
		{"expired last month", with("exp_month", "2", "exp_year", "2026"), payments.CodeExpiredCard, "expired"},
		{"expired last year", with("exp_year", "25"), payments.CodeExpiredCard, "expired"},
		{"two-digit cvc", with("cvc", "12"), "invalid_cvc", "security code is invalid"},
		{"five-digit cvc", with("cvc", "12345"), "invalid_cvc", "security code is invalid"},
		{"cvc with a letter", with("cvc", "12a"), "invalid_cvc", "security code is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ss := e.session(e.customer(), "")

			got := e.post(e.pageURL(ss), tt.form)

			if got.status != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400", got.status)
			}
			if !strings.Contains(got.body, `data-code="`+tt.wantCode+`"`) || !strings.Contains(got.body, tt.wantText) ||
				!strings.Contains(got.body, `id="card_number"`) {
				t.Errorf("page lacks the form, code %q or message %q:\n%s", tt.wantCode, tt.wantText, got.body)
			}
			if n := len(e.inbox.events()); n != 0 {
				t.Fatalf("completions = %d, want 0", n)
			}
			if again := e.post(e.pageURL(ss), typedCard("4242424242424242")); again.status != http.StatusOK {
				t.Errorf("a valid card after the refusal: status %d, want 200", again.status)
			}
			if n := len(e.inbox.events()); n != 1 {
				t.Errorf("completions after the valid card = %d, want 1", n)
			}
		})
	}
}

func TestEveryFieldAtFaultIsShownAtOnce(t *testing.T) {
	e := newEnv(t)
	ss := e.session(e.customer(), "")

	got := e.post(e.pageURL(ss), url.Values{"card_number": {"4242424242424241"}, "exp_month": {"13"}, "exp_year": {"203"}, "cvc": {"12"}})

	if got.status != http.StatusBadRequest {
		t.Fatalf("status = %d, want 400", got.status)
	}
	if !strings.Contains(got.body, "correct the 4 fields marked below") {
		t.Errorf("the page does not say how many fields to correct:\n%s", got.body)
	}
	for _, f := range []struct{ field, code, text string }{
		{"card_number", "incorrect_number", "card number is invalid"},
		{"exp_month", "invalid_expiry_month", "expiration month is invalid"},
		{"exp_year", "invalid_expiry_year", "expiration year is invalid"},
		{"cvc", "invalid_cvc", "security code is invalid"},
	} {
		wantInput := `aria-invalid="true" aria-describedby="` + f.field + `-error"`
		wantError := `<p id="` + f.field + `-error" class="field-error" data-code="` + f.code + `">Your ` // the message follows
		if !strings.Contains(got.body, wantInput) || !strings.Contains(got.body, wantError) || !strings.Contains(got.body, f.text) {
			t.Errorf("%s is not marked with its own %s message %q:\n%s", f.field, f.code, f.text, got.body)
		}
	}

	// Only the fields at fault are marked: an expired card names its year alone.
	got = e.post(e.pageURL(ss), url.Values{"card_number": {"4242424242424242"}, "exp_month": {"1"}, "exp_year": {"2020"}, "cvc": {"123"}})
	if got.status != http.StatusBadRequest || strings.Count(got.body, ` aria-invalid="true" aria-describedby`) != 1 ||
		!strings.Contains(got.body, `id="exp_year-error" class="field-error" data-code="`+payments.CodeExpiredCard+`"`) ||
		!strings.Contains(got.body, "correct the field marked below") {
		t.Errorf("an expired card: status %d, want 400 with the year alone marked:\n%s", got.status, got.body)
	}
	if n := len(e.inbox.events()); n != 0 {
		t.Fatalf("completions = %d, want 0", n)
	}
}

func TestCardExpiringThisMonthIsValidAndTwoDigitYearsAre20xx(t *testing.T) {
	e := newEnv(t)
	ss := e.session(e.customer(), "")
	form := typedCard("4242424242424242")
	form.Set("exp_month", "03")
	form.Set("exp_year", "26")

	if got := e.post(e.pageURL(ss), form); got.status != http.StatusOK {
		t.Fatalf("status = %d, want 200:\n%s", got.status, got.body)
	}
	if got := e.inbox.events()[0].Card; got.ExpMonth != 3 || got.ExpYear != 2026 {
		t.Errorf("expiry = %d/%d, want 3/2026", got.ExpMonth, got.ExpYear)
	}
}

func TestFormHasTheFourFieldsLabelsAndSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	ss := e.session(e.customer(), "")

	got := e.get(ss.URL)

	if got.status != http.StatusOK {
		t.Fatalf("status = %d, want 200", got.status)
	}
	for _, name := range []string{"card_number", "exp_month", "exp_year", "cvc"} {
		for _, want := range []string{`id="` + name + `"`, `name="` + name + `"`, `<label for="` + name + `"`} {
			if !strings.Contains(got.body, want) {
				t.Errorf("form lacks %s", want)
			}
		}
	}
	for _, want := range []string{`<form method="post"`, `<button id="submit" type="submit"`} {
		if !strings.Contains(got.body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(got.body, "<script") {
		t.Errorf("the page uses JavaScript")
	}
	wantHeaders := map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-store",
		"Referrer-Policy":         "no-referrer",
	}
	for k, want := range wantHeaders {
		if v := got.header.Get(k); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
}

func TestSessionURLIsThePublicPageAndExpiresAfterTheTTL(t *testing.T) {
	e := newEnv(t)
	ss := e.session(e.customer(), "")

	if want := e.srv.URL + "/sandbox/setup/" + ss.ProviderSessionID; ss.URL != want {
		t.Errorf("URL = %s, want %s", ss.URL, want)
	}
	if !strings.HasPrefix(ss.ProviderSessionID, "cs_sbx_") || len(ss.ProviderSessionID) < len("cs_sbx_")+22 {
		t.Errorf("session id %q is not cs_sbx_ and 128+ random bits", ss.ProviderSessionID)
	}
	if want := start.Add(24 * time.Hour); !ss.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v", ss.ExpiresAt, want)
	}
}

func TestReturnURLRedirectsAfterSaving(t *testing.T) {
	e := newEnv(t)
	ss := e.session(e.customer(), "https://app.example.com/cards?done=1")

	page := e.get(ss.URL)
	got := e.post(ss.URL, typedCard("4242424242424242"))

	if want := "form-action 'self' https://app.example.com"; !strings.HasSuffix(page.header.Get("Content-Security-Policy"), want) {
		t.Errorf("CSP = %q, want it to end with %q", page.header.Get("Content-Security-Policy"), want)
	}
	if got.status != http.StatusSeeOther {
		t.Fatalf("status = %d, want 303", got.status)
	}
	if loc := got.header.Get("Location"); loc != "https://app.example.com/cards?done=1" {
		t.Errorf("Location = %q", loc)
	}
	if n := len(e.inbox.events()); n != 1 {
		t.Errorf("completions = %d, want 1", n)
	}
}

// TestCompletedSessionSaysSoAndSavesNothing: a completed page, visited or
// submitted again, answers api.md's 409 but says so as good news (the card
// is saved), and saves nothing more.
func TestCompletedSessionSaysSoAndSavesNothing(t *testing.T) {
	e := newEnv(t)
	ss := e.session(e.customer(), "")
	if got := e.post(ss.URL, typedCard("4242424242424242")); got.status != http.StatusOK {
		t.Fatalf("first POST = %d", got.status)
	}

	again := e.post(ss.URL, typedCard("5555555555554444"))
	page := e.get(ss.URL)

	for _, got := range []response{again, page} {
		if got.status != http.StatusConflict || !strings.Contains(got.body, "already completed") || !strings.Contains(got.body, `class="ok"`) ||
			strings.Contains(got.body, `name="card_number"`) {
			t.Errorf("status = %d, want 409 saying already completed as good news, without a form:\n%s", got.status, got.body)
		}
	}
	if n, calls := len(e.inbox.events()), e.inbox.callCount(); n != 1 || calls != 1 {
		t.Errorf("completions = %d in %d calls, want 1 in 1", n, calls)
	}
	if n := e.count("payment_methods"); n != 1 {
		t.Errorf("payment methods = %d, want 1", n)
	}
}

func TestExpiredSessionAnswers410(t *testing.T) {
	e := newEnv(t)
	ss := e.session(e.customer(), "")
	e.clock.Set(ss.ExpiresAt)

	post := e.post(ss.URL, typedCard("4242424242424242"))
	get := e.get(ss.URL)

	for _, got := range []response{post, get} {
		if got.status != http.StatusGone || !strings.Contains(got.body, "expired") {
			t.Errorf("status = %d, want 410 saying expired:\n%s", got.status, got.body)
		}
	}
	if n := e.count("payment_methods"); n != 0 || len(e.inbox.events()) != 0 {
		t.Errorf("an expired session saved a card")
	}
}

func TestUnknownSessionAnswers404(t *testing.T) {
	e := newEnv(t)

	for _, got := range []response{
		e.get(e.srv.URL + "/sandbox/setup/cs_sbx_UNKNOWN"),
		e.post(e.srv.URL+"/sandbox/setup/cs_sbx_UNKNOWN", typedCard("4242424242424242")),
	} {
		if got.status != http.StatusNotFound || !strings.Contains(got.body, "does not exist") {
			t.Errorf("status = %d, want 404 with a page:\n%s", got.status, got.body)
		}
	}
}

func TestOversizedFormAnswers413(t *testing.T) {
	e := newEnv(t)
	ss := e.session(e.customer(), "")
	form := typedCard("4242424242424242")
	form.Set("padding", strings.Repeat("x", 70<<10))

	if got := e.post(ss.URL, form); got.status != http.StatusRequestEntityTooLarge {
		t.Errorf("status = %d, want 413", got.status)
	}
	if got := e.get(ss.URL); got.status != http.StatusOK {
		t.Errorf("session after an oversized form: %d, want 200 (open)", got.status)
	}
}

func TestConcurrentSubmitsCompleteOnce(t *testing.T) {
	e := newEnv(t)
	ss := e.session(e.customer(), "")

	pages := make([]response, 20)
	var wg sync.WaitGroup
	for i := range pages {
		wg.Go(func() { pages[i] = e.post(ss.URL, typedCard("4242424242424242")) })
	}
	wg.Wait()

	saved, completed := 0, 0
	for _, p := range pages {
		switch {
		case p.status == http.StatusConflict && strings.Contains(p.body, "already completed"):
			completed++
		case p.status == http.StatusOK && strings.Contains(p.body, "<h1>Card saved"):
			saved++
		}
	}
	if saved != 1 || completed != 19 {
		t.Errorf("%d pages saved the card and %d said already completed, want 1 and 19", saved, completed)
	}
	if n, pms := len(e.inbox.events()), e.count("payment_methods"); n != 1 || pms != 1 {
		t.Errorf("completions = %d, payment methods = %d, want 1 and 1", n, pms)
	}
}
