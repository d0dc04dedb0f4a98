package sandbox

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/robotlabor/billing/payments"
)

// card is what the sandbox keeps of a card typed on the page: never its
// number, only what Stripe shows back and how its charges end.
type card struct {
	brand       string
	last4       string
	expMonth    int
	expYear     int
	declineCode string // the failure code of every charge; "" when charges succeed
}

// cardForm is the page's form as submitted.
type cardForm struct {
	number, expMonth, expYear, cvc string
}

// refusal is a card the page turns down: shown with the form, session left open.
type refusal struct {
	status int          // 400 for a malformed card, 402 for a declined one
	errs   []fieldError // at least one; for a malformed card, every field at fault, in the form's order
}

// fieldError is what is wrong with one field, or, with no param, with the card.
type fieldError struct {
	param   string // the form field at fault; "" for a declined card
	code    string // Stripe's error code
	message string // for the person at the page
}

// Stripe's test cards with a special behaviour (api.md, "Sandbox page").
// Any other Luhn-valid number is saved and its charges succeed.
const (
	cardDeclinedOnSave        = "4000000000000002"
	cardChargeDeclined        = "4000000000000341"
	cardChargeInsufficientFns = "4000000000009995"
)

// readCard validates the form against the clock, as Stripe's card element
// would, and then applies the test cards' behaviour on save. A malformed card
// is refused with every field at fault, so that the person fixes them at once.
func readCard(f cardForm, now time.Time) (card, *refusal) {
	var errs []fieldError
	bad := func(param, code, message string) { errs = append(errs, fieldError{param, code, message}) }

	number := strings.NewReplacer(" ", "", "-", "").Replace(f.number)
	if !validCardNumber(number) {
		bad("card_number", "incorrect_number", "Your card number is invalid.")
	}
	month, err := strconv.Atoi(strings.TrimSpace(f.expMonth))
	monthOK := err == nil && month >= 1 && month <= 12
	if !monthOK {
		bad("exp_month", "invalid_expiry_month", "Your card's expiration month is invalid.")
	}
	year, yearOK := parseExpYear(strings.TrimSpace(f.expYear))
	if yearOK = yearOK && year <= now.Year()+50; !yearOK {
		bad("exp_year", "invalid_expiry_year", "Your card's expiration year is invalid.")
	}
	if monthOK && yearOK && expired(month, year, now) {
		bad("exp_year", payments.CodeExpiredCard, "Your card has expired.")
	}
	if cvc := strings.TrimSpace(f.cvc); len(cvc) < 3 || len(cvc) > 4 || !allDigits(cvc) {
		bad("cvc", "invalid_cvc", "Your card's security code is invalid.")
	}
	if errs != nil {
		return card{}, &refusal{http.StatusBadRequest, errs}
	}

	c := card{brand: brandOf(number), last4: number[len(number)-4:], expMonth: month, expYear: year}
	switch number {
	case cardDeclinedOnSave:
		return card{}, &refusal{http.StatusPaymentRequired, []fieldError{{"", payments.CodeCardDeclined, "Your card was declined."}}}
	case cardChargeDeclined:
		c.declineCode = payments.CodeCardDeclined
	case cardChargeInsufficientFns:
		c.declineCode = payments.CodeInsufficientFunds
	}
	return c, nil
}

// validCardNumber: 12 to 19 digits passing the Luhn check.
func validCardNumber(number string) bool {
	if len(number) < 12 || len(number) > 19 || !allDigits(number) {
		return false
	}
	sum := 0
	for i := range len(number) {
		d := int(number[len(number)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// brandOf names the card network from the number's prefix.
func brandOf(number string) string {
	prefix := func(n int) int {
		v, _ := strconv.Atoi(number[:n])
		return v
	}
	switch {
	case number[0] == '4':
		return "visa"
	case prefix(2) >= 51 && prefix(2) <= 55, prefix(4) >= 2221 && prefix(4) <= 2720:
		return "mastercard"
	case prefix(2) == 34 || prefix(2) == 37:
		return "amex"
	default:
		return "unknown"
	}
}

// parseExpYear reads four digits, or two meaning 20xx.
func parseExpYear(s string) (int, bool) {
	if (len(s) != 2 && len(s) != 4) || !allDigits(s) {
		return 0, false
	}
	y, _ := strconv.Atoi(s)
	if len(s) == 2 {
		y += 2000
	}
	return y, true
}

// expired: a card is valid through the last day of its expiry month.
func expired(month, year int, now time.Time) bool {
	return year < now.Year() || (year == now.Year() && month < int(now.Month()))
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
