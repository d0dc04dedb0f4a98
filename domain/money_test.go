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

func TestMoneyString(t *testing.T) {
	if got, want := (domain.Money{Amount: 1999, Currency: "usd"}).String(), "1999 usd"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
