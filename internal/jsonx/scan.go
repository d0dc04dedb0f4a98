package jsonx

import "time"

// Scanner reads the plain form of a JSON object, as the service writes
// it: the object's own keys, unescaped printable ASCII strings, integers
// of at most 18 digits, true and false. Each method reports false when the
// input is anything else; the caller then leaves the whole text to
// encoding/json, so that the outcome, value or error, is always exactly
// encoding/json's. Decoding the log's most common bodies and metadata this
// way spares encoding/json's reflection, most of their cost.
type Scanner struct {
	b []byte
	i int
}

// NewScanner returns a Scanner of b.
func NewScanner(b []byte) *Scanner { return &Scanner{b: b} }

// Object reads the whole input as one object, calling field with each
// key, positioned at its value, which field must read.
func (s *Scanner) Object(field func(key []byte) bool) bool {
	s.space()
	if !s.byte('{') {
		return false
	}
	s.space()
	if !s.byte('}') {
		for {
			key, ok := s.Plain()
			if !ok {
				return false
			}
			s.space()
			if !s.byte(':') {
				return false
			}
			s.space()
			if !field(key) {
				return false
			}
			s.space()
			if s.byte('}') {
				break
			}
			if !s.byte(',') {
				return false
			}
			s.space()
		}
	}
	s.space()
	return s.i == len(s.b)
}

func (s *Scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *Scanner) byte(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// Plain reads a string of printable ASCII without escapes and returns
// its contents.
func (s *Scanner) Plain() ([]byte, bool) {
	if !s.byte('"') {
		return nil, false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

// Str reads a plain string into into.
func (s *Scanner) Str(into *string) bool {
	v, ok := s.Plain()
	if ok {
		*into = string(v)
	}
	return ok
}

// Int64 reads an integer of at most 18 digits (no overflow possible) in
// JSON's form: no leading zeros, no plus sign, no fraction or exponent.
func (s *Scanner) Int64(into *int64) bool {
	neg := s.byte('-')
	start := s.i
	var v int64
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		v = v*10 + int64(s.b[s.i]-'0')
		s.i++
	}
	n := s.i - start
	if n == 0 || n > 18 || (n > 1 && s.b[start] == '0') {
		return false // a fraction or an exponent is refused by Object, which wants , or }
	}
	if neg {
		v = -v
	}
	*into = v
	return true
}

// Bool reads true or false.
func (s *Scanner) Bool(into *bool) bool {
	for _, lit := range [...]struct {
		text string
		v    bool
	}{{"true", true}, {"false", false}} {
		if len(s.b)-s.i >= len(lit.text) && string(s.b[s.i:s.i+len(lit.text)]) == lit.text {
			s.i += len(lit.text)
			*into = lit.v
			return true
		}
	}
	return false
}

// Time reads a plain string as encoding/json does for a time.Time: by
// its UnmarshalJSON, given the quoted text.
func (s *Scanner) Time(into *time.Time) bool {
	start := s.i
	if _, ok := s.Plain(); !ok {
		return false
	}
	return into.UnmarshalJSON(s.b[start:s.i]) == nil
}
