package domain

import (
	"fmt"
	"strings"
)

// Currency is a lowercase ISO 4217 code, as Stripe spells it: "usd", "eur".
type Currency string

// ParseCurrency accepts three ASCII letters in any case and returns them in
// the canonical lowercase form. Anything else is ErrValidation on "currency".
func ParseCurrency(s string) (Currency, error) {
	c := Currency(strings.ToLower(s))
	if !c.Valid() {
		return "", Invalid("currency", fmt.Sprintf("currency %q is not a three-letter ISO 4217 code", s))
	}
	return c, nil
}

// Valid reports whether c is in canonical form: exactly three lowercase ASCII
// letters.
func (c Currency) Valid() bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < len(c); i++ {
		if c[i] < 'a' || c[i] > 'z' {
			return false
		}
	}
	return true
}

// Money is an amount in the currency's minor units (cents for usd). Amounts are
// never floats: 1999 usd is $19.99.
type Money struct {
	Amount   int64    `json:"amount"`
	Currency Currency `json:"currency"`
}

// String renders m for people: "$49.00" for usd, "49.00 EUR" for other
// currencies, with the currency's own count of minor-unit digits ("4900
// JPY", "4.900 KWD"). The integer fields stay what the API and the log
// carry; this is only for messages.
func (m Money) String() string {
	digits := m.Currency.MinorDigits()
	amount, sign := m.Amount, ""
	if amount < 0 {
		amount, sign = -amount, "-"
	}
	s := fmt.Sprint(amount)
	if digits > 0 {
		s = fmt.Sprintf("%0*d", digits+1, amount)
		s = s[:len(s)-digits] + "." + s[len(s)-digits:]
	}
	if m.Currency == "usd" {
		return sign + "$" + s
	}
	return sign + s + " " + strings.ToUpper(string(m.Currency))
}

// MinorDigits is how many digits c's minor unit has, as Stripe counts them:
// 0 for zero-decimal currencies (jpy, krw, …), 3 for bhd, jod, kwd, omr and
// tnd, else 2.
func (c Currency) MinorDigits() int {
	switch c {
	case "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf":
		return 0
	case "bhd", "jod", "kwd", "omr", "tnd":
		return 3
	}
	return 2
}
