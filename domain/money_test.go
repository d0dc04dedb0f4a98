package domain_test

import (
	"testing"

	"github.com/robotlabor/billing/domain"
)

func TestParseCurrency(t *testing.T) {
	tests := []struct {
		in      string
		want    domain.Currency
		wantErr error
	}{
		{"usd", "usd", nil},
		{"EUR", "eur", nil},
		{"", "", invalid("currency")},
		{"us", "", invalid("currency")},
		{"usdd", "", invalid("currency")},
		{"u$d", "", invalid("currency")},
		{"ÜSD", "", invalid("currency")},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := domain.ParseCurrency(tt.in)
			if tt.wantErr != nil {
				then(t, nil, err, nil, tt.wantErr)
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseCurrency(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestMoneyString: amounts read as people read them, in the currency's
// own minor units: 4900 usd is $49.00, not $4,900.
func TestMoneyString(t *testing.T) {
	for _, tt := range []struct {
		m    domain.Money
		want string
	}{
		{domain.Money{Amount: 4900, Currency: "usd"}, "$49.00"},
		{domain.Money{Amount: 5, Currency: "usd"}, "$0.05"},
		{domain.Money{Amount: 0, Currency: "usd"}, "$0.00"},
		{domain.Money{Amount: 1999, Currency: "eur"}, "19.99 EUR"},
		{domain.Money{Amount: 4900, Currency: "jpy"}, "4900 JPY"},
		{domain.Money{Amount: 4900, Currency: "kwd"}, "4.900 KWD"},
		{domain.Money{Amount: -250, Currency: "gbp"}, "-2.50 GBP"},
	} {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("%d %s: String() = %q, want %q", tt.m.Amount, tt.m.Currency, got, tt.want)
		}
	}
}
