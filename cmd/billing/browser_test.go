package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// browserTimeout bounds everything one browser does in a test. It guards
// against a hang (a page that never loads, a wait that never holds); it is
// not a timing assertion, so it is generous for a loaded 2-core machine.
const browserTimeout = 60 * time.Second

// chromiumNames are the names a Chromium or Chrome binary goes by on PATH.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome"}

// chromiumPath finds Chromium on PATH. Without one the test skips, so that
// the README's `go test ./...` passes on a machine with only Go; under CI
// (CI set, as CI sets CI=true) it fails, because .ci/run installs Chromium
// and the browser test must run there.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range chromiumNames {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	msg := "no " + strings.Join(chromiumNames, ", ") + " on PATH; " +
		"install Chromium to run the browser test (Debian/Ubuntu: apt-get install chromium)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI is set, and on CI this test must run (.ci/run installs Chromium)")
	}
	t.Skip(msg)
	return ""
}

// newBrowser starts a headless Chromium for this test alone and returns
// the context of its first tab. The browser is closed in t.Cleanup, before
// anything the test started earlier (cleanups run last-in, first-out).
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	exe := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		// The flags Chromium needs on a machine with a closed network, or
		// its connections misbehave (headless and some others are among
		// the defaults already; all are named here so none goes missing).
		// No UserDataDir option: chromedp then makes a fresh, empty user
		// data dir for this browser, kills any of Chromium's child
		// processes still using it, and removes it on close.
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
	)
	var out lockedBuffer
	opts = append(opts, chromedp.CombinedOutput(&out))

	ctx, cancelTimeout := context.WithTimeout(context.Background(), browserTimeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		// Close gracefully, so that Chromium ends its own child processes;
		// then cancel, which kills whatever is left and waits for it.
		err := chromedp.Cancel(tab)
		timedOut := ctx.Err() != nil // then the test has failed already
		cancelTab()
		cancelAlloc()
		cancelTimeout()
		if err != nil && !timedOut {
			t.Errorf("closing Chromium: %v", err)
		}
		if t.Failed() && out.Len() > 0 {
			t.Logf("Chromium's output:\n%s", out.String())
		}
	})
	if err := chromedp.Do(tab); err != nil { // starts the browser, opens the tab
		t.Fatalf("starting %s: %v", exe, err)
	}
	return tab
}

// lockedBuffer collects the browser's output from chromedp's goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// openCardPage loads the hosted card page and checks that its form is there.
func openCardPage(t *testing.T, tab context.Context, pageURL string) {
	t.Helper()
	resp, err := chromedp.Run(tab, chromedp.NavigateResponse(pageURL))
	if err != nil {
		t.Fatalf("opening the card page: %v", err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("card page answered %d, want 200", resp.Status)
	}
	for _, id := range []string{"card_number", "exp_month", "exp_year", "cvc", "submit"} {
		if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.ID(id))); err != nil {
			t.Fatalf("card page: #%s: %v", id, err)
		}
	}
}

// enterCard types a card into the page's form, as a person would, submits
// it with the button, and returns the answer to the submission once the
// page it leads to has loaded (after a redirect, the answer at its end).
func enterCard(t *testing.T, tab context.Context, number, month, year, cvc string) *network.Response {
	t.Helper()
	for _, f := range []struct{ id, value string }{
		{"card_number", number}, {"exp_month", month}, {"exp_year", year}, {"cvc", cvc},
	} {
		// After a refusal the page refills the expiry: empty every field
		// first (Clear empties the value the page was served with).
		if err := chromedp.Do(tab, chromedp.Clear(chromedp.ID(f.id)), chromedp.SendKeys(chromedp.ID(f.id), f.value)); err != nil {
			t.Fatalf("typing %q into #%s: %v", f.value, f.id, err)
		}
		if got, err := chromedp.Run(tab, chromedp.Value(chromedp.ID(f.id))); err != nil || got != f.value {
			t.Fatalf("#%s holds %q (%v) after typing %q", f.id, got, err, f.value)
		}
	}
	resp, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.ID("submit")))
	if err != nil {
		t.Fatalf("submitting card %s: %v", number, err)
	}
	return resp
}

// text is the text of the first element that sel finds on the current page.
func text(t *testing.T, tab context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("reading %s: %v", sel, err)
	}
	return s
}

// listCards is the user's saved cards, through the API.
func listCards(c *client) []paymentMethod {
	c.t.Helper()
	var page struct{ Data []paymentMethod }
	c.want(c.call(http.MethodGet, "/v1/me/payment-methods", nil), http.StatusOK, "").decode(c.t, &page)
	return page.Data
}

// wantOneVisa4242 waits until the saved card is listed, then checks that
// exactly that one card is.
func wantOneVisa4242(t *testing.T, s *service, c *client) {
	t.Helper()
	var cards []paymentMethod
	waitFor(t, s, func() bool { cards = listCards(c); return len(cards) > 0 }, "the saved card in the list")
	if len(cards) != 1 {
		t.Fatalf("listed %d cards, want exactly 1: %+v", len(cards), cards)
	}
	if got := cards[0]; got.Brand != "visa" || got.Last4 != "4242" || got.ExpMonth != 12 || got.ExpYear != 2034 {
		t.Fatalf("listed %+v, want visa 4242 expiring 12/2034", got)
	}
}

// TestSavingACardInABrowser drives the sandbox's hosted card page in a real
// headless Chromium: what the HTTP tests cannot see (the page's form as
// served, its Content-Security-Policy, the redirect to the return URL)
// is what a user's browser does with it.
func TestSavingACardInABrowser(t *testing.T) {
	chromiumPath(t) // skip (or fail on CI) before starting anything
	s := startService(t, t.TempDir())

	t.Run("declined, then saved", func(t *testing.T) {
		alice := s.user(t, "alice")
		setup := alice.startSetup()
		tab := newBrowser(t)
		openCardPage(t, tab, setup.URL)

		// A card the page rejects: the form comes back with the reason.
		if resp := enterCard(t, tab, "4000000000000002", "12", "2034", "123"); resp.Status != http.StatusPaymentRequired {
			t.Fatalf("declined card: page answered %d, want 402", resp.Status)
		}
		code, err := chromedp.Run(tab, chromedp.AttributeValue(chromedp.ID("message"), "data-code"))
		if err != nil {
			t.Fatalf("reading the refusal: %v", err)
		}
		if msg := text(t, tab, "#message"); code.Value != "card_declined" || !strings.Contains(strings.ToLower(msg), "declined") {
			t.Fatalf("after a declined card the page shows %q (data-code %q), want a card_declined message", msg, code.Value)
		}
		// The session stays open for another try; the number is not refilled.
		if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.ID("submit"))); err != nil {
			t.Fatalf("no form after the refusal: %v", err)
		}
		if number, err := chromedp.Run(tab, chromedp.Value(chromedp.ID("card_number"))); err != nil || number != "" {
			t.Fatalf("card number field after a refusal = %q (%v), want empty", number, err)
		}
		if cards := listCards(alice); len(cards) != 0 {
			t.Fatalf("a declined card was saved: %+v", cards)
		}

		// A good card on the same page.
		if resp := enterCard(t, tab, "4242424242424242", "12", "2034", "123"); resp.Status != http.StatusOK {
			t.Fatalf("good card: page answered %d, want 200", resp.Status)
		}
		if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(`#message[role="status"]`))); err != nil {
			t.Fatalf("no success message: %v", err)
		}
		if msg := text(t, tab, "#message"); !strings.Contains(msg, "Visa") || !strings.Contains(msg, "4242") {
			t.Fatalf("success page says %q, want the Visa ending in 4242", msg)
		}
		wantOneVisa4242(t, s, alice)
	})

	t.Run("return_url", func(t *testing.T) {
		// The app the user comes back to, on an origin of its own (another
		// loopback port), so that the page's form-action policy must allow it.
		app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || r.URL.Path != "/cards/done" {
				http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte(`<!doctype html><title>App</title><p id="back">Back in the app</p>`))
		}))
		t.Cleanup(app.Close)
		returnURL := app.URL + "/cards/done?from=sandbox"

		bob := s.user(t, "bob")
		var setup setupAnswer
		bob.want(bob.call(http.MethodPost, "/v1/me/payment-methods", map[string]string{"return_url": returnURL}),
			http.StatusCreated, "").decode(t, &setup)
		tab := newBrowser(t)
		openCardPage(t, tab, setup.URL)

		resp := enterCard(t, tab, "4242424242424242", "12", "2034", "123")
		if resp.Status != http.StatusOK || resp.URL != returnURL {
			t.Fatalf("after submitting, the browser loaded %s (%d), want %s (200)", resp.URL, resp.Status, returnURL)
		}
		if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.ID("back"))); err != nil {
			t.Fatalf("the app's page is not shown: %v", err)
		}
		if loc, err := chromedp.Run(tab, chromedp.Location()); err != nil || loc != returnURL {
			t.Fatalf("browser is at %q (%v), want %s", loc, err, returnURL)
		}
		wantOneVisa4242(t, s, bob)
	})
}

// TestCardPageOnADesktopAndAPhone: every state of the hosted card page
// (the form with its test cards open, a refusal, every field refused at
// once, the saved card, a page
// already completed), in a desktop window and at a phone's width, fits the
// width without scrolling sideways. Each state is screenshotted into
// BILLING_SCREENSHOTS (default: the test's temporary dir) to be looked at.
func TestCardPageOnADesktopAndAPhone(t *testing.T) {
	chromiumPath(t)
	s := startService(t, t.TempDir())
	dir := os.Getenv("BILLING_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	alice := s.user(t, "alice")
	for _, size := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 800}, {"phone", 375, 740}} {
		t.Run(size.name, func(t *testing.T) {
			tab := newBrowser(t)
			if err := chromedp.Do(tab, chromedp.EmulateViewport(size.w, size.h)); err != nil {
				t.Fatal(err)
			}
			state := func(name string) {
				t.Helper()
				fits, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`))
				if err != nil || !fits {
					t.Errorf("%s, %s: the page is wider than the window (%v)", size.name, name, err)
				}
				png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, size.name+"-"+name+".png"), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			setup := alice.startSetup()
			openCardPage(t, tab, setup.URL)
			if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS("summary"))); err != nil {
				t.Fatal(err)
			}
			state("form")
			enterCard(t, tab, "4242424242424241", "12", "2034", "123") // fails the Luhn check
			state("refused")
			enterCard(t, tab, "4242424242424241", "13", "203", "12") // every field wrong
			for _, id := range []string{"card_number", "exp_month", "exp_year", "cvc"} {
				if msg := text(t, tab, "#"+id+"-error"); msg == "" {
					t.Errorf("%s, every field wrong: #%s has no message of its own", size.name, id)
				}
			}
			state("refused-every-field")
			enterCard(t, tab, "4242424242424242", "12", "2034", "123")
			state("saved")
			if _, err := chromedp.Run(tab, chromedp.NavigateResponse(setup.URL)); err != nil {
				t.Fatal(err)
			}
			if msg := text(t, tab, "#message"); !strings.Contains(msg, "already completed") {
				t.Fatalf("revisiting a completed page says %q", msg)
			}
			state("completed")
		})
	}
}
