package audit

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The canonical form of a JSON value (docs/events.md, "Tamper evidence"):
// no whitespace; object members sorted by their keys' UTF-8 bytes, no key
// twice; strings with only ", \ and the control characters escaped (\b \t
// \n \f \r, else \u00xx in lowercase hex), everything else as UTF-8;
// numbers are integers written as decimal digits (no fraction, no
// exponent, -0 as 0); true, false and null as they are. It is what
// Python's json.dumps(v, sort_keys=True, separators=(",", ":"),
// ensure_ascii=False) writes for such values. RFC 8785 (JCS) differs only
// in reading numbers as doubles, which would round amounts beyond 2^53:
// the ledger's money is int64, so its form keeps integers exact.
//
// No library writes this form (gowebpki/jcs and its kin implement JCS and
// parse numbers as float64), hence this small parser.

// errNotCanonicalizable: the value is not JSON, or holds what the form
// does not admit (a fraction, an exponent, a key twice, invalid UTF-8).
var errNotCanonicalizable = errors.New("not canonical JSON")

// appendCanonical appends the canonical form of the JSON text src to dst.
func appendCanonical(dst, src []byte) ([]byte, error) {
	p := parser{src: src}
	dst, err := p.value(dst)
	if err != nil {
		return nil, err
	}
	if p.skipSpace(); p.pos != len(p.src) {
		return nil, p.errorf("text after the value")
	}
	return dst, nil
}

type parser struct {
	src []byte
	pos int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", errNotCanonicalizable, p.pos, fmt.Sprintf(format, args...))
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value(dst []byte) ([]byte, error) {
	p.skipSpace()
	if p.pos == len(p.src) {
		return nil, p.errorf("unexpected end")
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		members, err := p.object()
		if err != nil {
			return nil, err
		}
		return appendMembers(dst, members), nil
	case c == '[':
		return p.array(dst)
	case c == '"':
		s, err := p.string()
		if err != nil {
			return nil, err
		}
		return appendString(dst, s), nil
	case c == '-' || c >= '0' && c <= '9':
		return p.number(dst)
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(p.src[p.pos:], []byte(lit)) {
				p.pos += len(lit)
				return append(dst, lit...), nil
			}
		}
		return nil, p.errorf("unexpected %q", c)
	}
}

// member is an object member with its value already canonical.
type member struct {
	key   string
	value []byte
}

// object parses the object at p.pos into its members, sorted by key.
func (p *parser) object() ([]member, error) {
	p.pos++ // {
	var members []member
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == '}' {
		p.pos++
		return members, nil
	}
	for {
		p.skipSpace()
		if p.pos == len(p.src) || p.src[p.pos] != '"' {
			return nil, p.errorf("want a key")
		}
		key, err := p.string()
		if err != nil {
			return nil, err
		}
		if p.skipSpace(); p.pos == len(p.src) || p.src[p.pos] != ':' {
			return nil, p.errorf("want ':'")
		}
		p.pos++
		value, err := p.value(nil)
		if err != nil {
			return nil, err
		}
		members = append(members, member{key, value})
		p.skipSpace()
		if p.pos == len(p.src) {
			return nil, p.errorf("unexpected end in an object")
		}
		c := p.src[p.pos]
		p.pos++
		if c == '}' {
			break
		}
		if c != ',' {
			return nil, p.errorf("want ',' or '}'")
		}
	}
	sortMembers(members)
	for i := 1; i < len(members); i++ {
		if members[i].key == members[i-1].key {
			return nil, p.errorf("key %q twice", members[i].key)
		}
	}
	return members, nil
}

func sortMembers(members []member) {
	slices.SortFunc(members, func(a, b member) int { return strings.Compare(a.key, b.key) })
}

func appendMembers(dst []byte, members []member) []byte {
	dst = append(dst, '{')
	for i, m := range members {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, m.key)
		dst = append(dst, ':')
		dst = append(dst, m.value...)
	}
	return append(dst, '}')
}

func (p *parser) array(dst []byte) ([]byte, error) {
	p.pos++ // [
	dst = append(dst, '[')
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ']' {
		p.pos++
		return append(dst, ']'), nil
	}
	for first := true; ; first = false {
		if !first {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = p.value(dst); err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos == len(p.src) {
			return nil, p.errorf("unexpected end in an array")
		}
		c := p.src[p.pos]
		p.pos++
		if c == ']' {
			return append(dst, ']'), nil
		}
		if c != ',' {
			return nil, p.errorf("want ',' or ']'")
		}
	}
}

// number copies an integer, refusing fractions and exponents.
func (p *parser) number(dst []byte) ([]byte, error) {
	start := p.pos
	if p.src[p.pos] == '-' {
		p.pos++
	}
	digits := p.pos
	for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
		p.pos++
	}
	switch {
	case p.pos == digits:
		return nil, p.errorf("a number without digits")
	case p.src[digits] == '0' && p.pos-digits > 1:
		return nil, p.errorf("a number with a leading zero")
	case p.pos < len(p.src) && (p.src[p.pos] == '.' || p.src[p.pos] == 'e' || p.src[p.pos] == 'E'):
		return nil, p.errorf("a number that is not an integer")
	}
	num := p.src[start:p.pos]
	if string(num) == "-0" {
		num = num[1:]
	}
	return append(dst, num...), nil
}

// string parses the string at p.pos and returns its value.
func (p *parser) string() (string, error) {
	p.pos++ // "
	start := p.pos
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '"' {
			s := p.src[start:p.pos]
			p.pos++
			if !utf8.Valid(s) {
				return "", p.errorf("a string that is not UTF-8")
			}
			return string(s), nil
		}
		if c == '\\' {
			return p.escapedString(start)
		}
		if c < 0x20 {
			return "", p.errorf("a control character in a string")
		}
		p.pos++
	}
	return "", p.errorf("an unterminated string")
}

// escapedString is string's slow path, from the first backslash on.
func (p *parser) escapedString(start int) (string, error) {
	b := append([]byte(nil), p.src[start:p.pos]...)
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '"':
			p.pos++
			if !utf8.Valid(b) {
				return "", p.errorf("a string that is not UTF-8")
			}
			return string(b), nil
		case c < 0x20:
			return "", p.errorf("a control character in a string")
		case c != '\\':
			b = append(b, c)
			p.pos++
			continue
		}
		if p.pos+1 == len(p.src) {
			break
		}
		esc := p.src[p.pos+1]
		p.pos += 2
		switch esc {
		case '"', '\\', '/':
			b = append(b, esc)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.errorf("a bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				lo, ok := rune(-1), false
				if p.pos+1 < len(p.src) && p.src[p.pos] == '\\' && p.src[p.pos+1] == 'u' {
					p.pos += 2
					lo, ok = p.hex4()
				}
				if r = utf16.DecodeRune(r, lo); !ok || r == utf8.RuneError {
					return "", p.errorf("a lone surrogate in a string")
				}
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", p.errorf("a bad escape \\%c", esc)
		}
	}
	return "", p.errorf("an unterminated string")
}

func (p *parser) hex4() (rune, bool) {
	if p.pos+4 > len(p.src) {
		return 0, false
	}
	var r rune
	for _, c := range p.src[p.pos : p.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	p.pos += 4
	return r, true
}

// appendString appends s in the canonical form's escaping.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c >= 0x20:
			dst = append(dst, c)
		case c == '\b':
			dst = append(dst, '\\', 'b')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\f':
			dst = append(dst, '\\', 'f')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		default:
			const hex = "0123456789abcdef"
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
	}
	return append(dst, '"')
}
