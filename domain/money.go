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

// String renders m for people and logs, e.g. "4900 usd".
func (m Money) String() string {
	return fmt.Sprintf("%d %s", m.Amount, m.Currency)
}
