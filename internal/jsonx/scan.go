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
	b, start := s.b, s.i
	i := start
	for i < len(b) && plainChar[b[i]] {
		i++
	}
	if i == len(b) || b[i] != '"' {
		return nil, false
	}
	s.i = i + 1
	return b[start:i], true
}

// plainChar tells the bytes a plain string holds: printable ASCII but the
// quote and the backslash. A table costs one load a byte, where three
// comparisons did.
var plainChar = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// PlainObject reports whether b is one object of the plain form whose
// values are plain strings, integers, booleans and nulls: most bodies and
// metadata of the log. Such text is JSON; for other text the caller asks
// encoding/json. It costs a fraction of json.Valid.
func PlainObject(b []byte) bool {
	s := Scanner{b: b}
	return s.Object(func([]byte) bool { return s.scalar() })
}

// scalar reads a plain string, an integer, a boolean or null.
func (s *Scanner) scalar() bool {
	if s.i == len(s.b) {
		return false
	}
	switch s.b[s.i] {
	case '"':
		_, ok := s.Plain()
		return ok
	case 't', 'f':
		var v bool
		return s.Bool(&v)
	case 'n':
		return s.literal("null")
	default:
		var v int64
		return s.Int64(&v)
	}
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
	switch {
	case s.literal("true"):
		*into = true
	case s.literal("false"):
		*into = false
	default:
		return false
	}
	return true
}

// literal reads text, a literal such as true or null, if it comes next.
func (s *Scanner) literal(text string) bool {
	if len(s.b)-s.i >= len(text) && string(s.b[s.i:s.i+len(text)]) == text {
		s.i += len(text)
		return true
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
