package sandbox

import "testing"

func TestLuhnAndLength(t *testing.T) {
	tests := map[string]bool{
		"4242424242424242":     true,
		"4242424242424241":     false,
		"378282246310005":      true,
		"000000000000":         true, // 12 digits, Luhn sum 0
		"00000000000":          false,
		"0000000000000000000":  true,
		"00000000000000000000": false,
		"4242x24242424242":     false,
	}
	for number, want := range tests {
		if got := validCardNumber(number); got != want {
			t.Errorf("validCardNumber(%s) = %v, want %v", number, got, want)
		}
	}
}

func TestBrandFromPrefix(t *testing.T) {
	tests := map[string]string{
		"4242424242424242": "visa",
		"5105105105105100": "mastercard",
		"5555555555554444": "mastercard",
		"5600000000000003": "unknown",
		"2221000000000009": "mastercard",
		"2720990000000007": "mastercard",
		"2721000000000004": "unknown",
		"340000000000009":  "amex",
		"378282246310005":  "amex",
		"6011111111111117": "unknown",
	}
	for number, want := range tests {
		if got := brandOf(number); got != want {
			t.Errorf("brandOf(%s) = %s, want %s", number, got, want)
		}
	}
}
