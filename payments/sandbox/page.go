package sandbox

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/robotlabor/billing/payments"
)

// setupPath is where setup pages live; the service mounts Handler at /sandbox/.
const setupPath = "/sandbox/setup/"

// maxFormBytes caps a submitted form, as api.md caps every body.
const maxFormBytes = 64 << 10

const basePolicy = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

//go:embed page.html
var pageFS embed.FS

func parsePage() (*template.Template, error) { return template.ParseFS(pageFS, "page.html") }

// pageData is what page.html shows.
type pageData struct {
	Title             string
	Message, Code     string                   // a refusal or why the page is over
	Done              bool                     // the page is over for good reason: Message is good news
	Errors            map[string]*fieldMessage // a refused card's fields at fault, by field name
	Form              bool
	ExpMonth, ExpYear string // refilled after a refusal; the card number and CVC never are
	Saved             bool
	Brand, Last4      string
}

// fieldMessage is what page.html shows under a field at fault.
type fieldMessage struct{ Field, Code, Message string }

// refusedPage shows the form again with every error of a refused card: a
// declined card at the top, each field at fault under the field, and at the
// top how many fields to correct.
func refusedPage(rf *refusal, f cardForm) pageData {
	d := pageData{Title: "Save a card", Form: true, ExpMonth: f.expMonth, ExpYear: f.expYear, Code: rf.errs[0].code}
	for _, e := range rf.errs {
		if e.param == "" {
			d.Message = e.message
			continue
		}
		if d.Errors == nil {
			d.Errors = make(map[string]*fieldMessage, len(rf.errs))
		}
		d.Errors[e.param] = &fieldMessage{e.param, e.code, e.message} // readCard finds at most one fault per field
	}
	switch n := len(d.Errors); {
	case n == 1:
		d.Message = "Your card was not saved: correct the field marked below."
	case n > 1:
		d.Message = fmt.Sprintf("Your card was not saved: correct the %d fields marked below.", n)
	}
	return d
}

// Handler serves the hosted card pages: GET and POST /sandbox/setup/{id}.
// The unguessable id is the capability: there is no login, as on Stripe's.
// Statuses: 200 form or "Card saved", 303 to the session's return URL after
// saving, 400 malformed card, 402 declined card, 404 unknown session, 409
// completed session (said as good news), 410 expired session, 413 form
// over 64 KiB.
func (s *Sandbox) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+setupPath+"{id}", s.showSetup)
	mux.HandleFunc("POST "+setupPath+"{id}", s.submitSetup)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", basePolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		mux.ServeHTTP(w, r)
	})
}

func (s *Sandbox) showSetup(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.openSession(w, r); ok {
		s.render(w, r, http.StatusOK, pageData{Title: "Save a card", Form: true})
	}
}

func (s *Sandbox) submitSetup(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.openSession(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		status, msg := http.StatusBadRequest, "The form could not be read. Please try again."
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			status, msg = http.StatusRequestEntityTooLarge, "The form is too large."
		}
		s.render(w, r, status, pageData{Title: "Save a card", Form: true, Message: msg, Code: "invalid_request"})
		return
	}
	f := cardForm{
		number:   r.PostForm.Get("card_number"),
		expMonth: r.PostForm.Get("exp_month"),
		expYear:  r.PostForm.Get("exp_year"),
		cvc:      r.PostForm.Get("cvc"),
	}
	c, refused := readCard(f, s.now())
	if refused != nil {
		s.render(w, r, refused.status, refusedPage(refused, f))
		return
	}
	eventID, err := s.completeSetup(r.Context(), ss.id, c)
	if err != nil {
		s.renderOver(w, r, err)
		return
	}
	// Deliver now, so that the ledger normally has the card by the time the
	// browser comes back; the card is saved whatever happens here, and Run
	// retries a failed delivery. A closed tab does not cut the delivery short.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), deliveryTimeout)
	defer cancel()
	if err := s.deliver(ctx, eventID, true); err != nil {
		s.cfg.Logger.WarnContext(ctx, "sandbox: setup completion not delivered; Run will retry", "event_id", eventID, "err", err)
	}
	if ss.returnURL != "" {
		http.Redirect(w, r, ss.returnURL, http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, pageData{Title: "Card saved", Saved: true, Brand: brandName(c.brand), Last4: c.last4})
}

// openSession loads the page's session and allows its return URL as a form
// target; when the session is unknown or over it answers the request itself.
func (s *Sandbox) openSession(w http.ResponseWriter, r *http.Request) (setupSession, bool) {
	ss, err := loadSession(r.Context(), s.db, r.PathValue("id"))
	if err == nil && ss.returnURL != "" {
		// Submitting the form ends on the return URL (303): form-action must allow it.
		if origin, oerr := returnOrigin(ss.returnURL); oerr == nil {
			w.Header().Set("Content-Security-Policy", basePolicy+" "+origin)
		}
	}
	if err == nil {
		err = ss.usable(s.now())
	}
	if err != nil {
		s.renderOver(w, r, err)
		return ss, false
	}
	return ss, true
}

// renderOver answers for a session whose page cannot save a card.
func (s *Sandbox) renderOver(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, payments.ErrNotFound):
		s.render(w, r, http.StatusNotFound, pageData{Title: "Page not found", Code: "resource_missing",
			Message: "This card page does not exist. Check the link, or start again from the app."})
	case errors.Is(err, errSessionCompleted):
		// Not an error for the person: the card is saved, and the page
		// says so as good news; the status stays api.md's 409.
		s.render(w, r, http.StatusConflict, pageData{Title: "Already completed", Code: "session_completed", Done: true,
			Message: "This card page was already completed: a card is saved. You can close this page."})
	case errors.Is(err, errSessionExpired):
		s.render(w, r, http.StatusGone, pageData{Title: "Page expired", Code: "session_expired",
			Message: "This card page has expired. Start again from the app to get a new one."})
	default:
		s.cfg.Logger.ErrorContext(r.Context(), "sandbox: setup page", "err", err)
		s.render(w, r, http.StatusInternalServerError, pageData{Title: "Something went wrong", Code: "internal",
			Message: "Something went wrong on our side. Please try again."})
	}
}

func (s *Sandbox) render(w http.ResponseWriter, r *http.Request, status int, d pageData) {
	var buf bytes.Buffer
	if err := s.page.Execute(&buf, d); err != nil {
		s.cfg.Logger.ErrorContext(r.Context(), "sandbox: rendering the setup page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes()) //nolint:errcheck // the browser went away
}

// brandName is a card brand as people write it.
func brandName(brand string) string {
	switch brand {
	case "visa":
		return "Visa"
	case "mastercard":
		return "Mastercard"
	case "amex":
		return "American Express"
	case "":
		return "card"
	}
	return strings.ToUpper(brand[:1]) + brand[1:]
}
