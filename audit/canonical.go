package audit

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// The canonical form of a JSON value (docs/events.md, "Tamper evidence"):
// no whitespace; object members sorted by their keys' UTF-8 bytes, members
// with the same key (JSON allows them) kept in the order written; strings
// with only ", \ and the control characters escaped (\b \t \n \f \r,
// else \u00xx in lowercase hex), everything else as UTF-8
// (invalid UTF-8 and lone surrogates read as U+FFFD, as encoding/json
// reads them); integers as decimal digits (-0 as 0); other numbers, which
// only providers' objects hold, as written; true, false and null as they
// are. For values without fractions it is what Python's json.dumps(v,
// sort_keys=True, separators=(",", ":"), ensure_ascii=False) writes.
// RFC 8785 (JCS) differs in reading every number as a double, which would
// round amounts beyond 2^53: the ledger's money is int64.
//
// No library writes this form (gowebpki/jcs and its kin implement JCS and
// parse numbers as float64), hence this small parser. It takes any JSON a
// provider may send (the ledger must never refuse to record a notice);
// only text that is not JSON, or JSON nested deeper than maxDepth, is
// refused.

// errNotCanonicalizable: the value is not JSON, or is nested too deep.
var errNotCanonicalizable = errors.New("not canonical JSON")

// maxDepth bounds how deep objects and arrays nest, as encoding/json
// bounds it: deeper text is refused rather than parsed on a stack that
// grows with it.
const maxDepth = 10000

// appendCanonical appends the canonical form of the JSON text src to dst.
func appendCanonical(dst, src []byte) ([]byte, error) {
	var p parser
	return p.canonical(dst, src)
}

// parser canonicalizes JSON texts. Its zero value is ready; reusing one
// saves allocations. Keys and scalar values are views of the source, not
// copies: the source must not change while it is parsed.
type parser struct {
	src   []byte
	pos   int
	stack []member // the members of the objects being parsed
	depth int      // the objects and arrays open at p.pos
}

// canonical appends the canonical form of src to dst.
func (p *parser) canonical(dst, src []byte) ([]byte, error) {
	p.src, p.pos, p.depth = src, 0, 0
	p.release(0)
	dst, err := p.value(dst)
	if err != nil {
		return nil, err
	}
	if p.skipSpace(); p.pos != len(p.src) {
		return nil, p.errorf("text after the value")
	}
	return dst, nil
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

// value appends the canonical form of the value at p.pos to dst.
func (p *parser) value(dst []byte) ([]byte, error) {
	p.skipSpace()
	if p.pos == len(p.src) {
		return nil, p.errorf("unexpected end")
	}
	c := p.src[p.pos]
	if c == '{' || c == '[' {
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
	}
	switch {
	case c == '{':
		base := len(p.stack)
		members, err := p.object()
		if err != nil {
			return nil, err
		}
		dst = appendMembers(dst, members)
		p.release(base)
		return dst, nil
	case c == '[':
		return p.array(dst)
	default:
		v, err := p.scalar()
		return append(dst, v...), err
	}
}

// scalar returns the canonical form of the string, number or literal at
// p.pos: the source bytes themselves when they are canonical already (a
// string with no escape, any integer but -0, a literal).
func (p *parser) scalar() ([]byte, error) {
	start := p.pos
	switch c := p.src[p.pos]; {
	case c == '"':
		s, escaped, err := p.string()
		if err != nil || !escaped {
			return p.src[start:p.pos], err
		}
		return appendString(nil, s), nil
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(p.src[p.pos:], []byte(lit)) {
				p.pos += len(lit)
				return p.src[start:p.pos], nil
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

// object parses the object at p.pos into its members, sorted by key (the
// same key's in the order written), on p.stack from its length on entry;
// the caller releases them.
func (p *parser) object() ([]member, error) {
	p.pos++ // {
	base := len(p.stack)
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == '}' {
		p.pos++
		return p.stack[base:], nil
	}
	for {
		p.skipSpace()
		if p.pos == len(p.src) || p.src[p.pos] != '"' {
			return nil, p.errorf("want a key")
		}
		key, _, err := p.string()
		if err != nil {
			return nil, err
		}
		if p.skipSpace(); p.pos == len(p.src) || p.src[p.pos] != ':' {
			return nil, p.errorf("want ':'")
		}
		p.pos++
		if p.skipSpace(); p.pos == len(p.src) {
			return nil, p.errorf("unexpected end")
		}
		var value []byte
		if c := p.src[p.pos]; c == '{' || c == '[' {
			value, err = p.value(nil)
		} else {
			value, err = p.scalar()
		}
		if err != nil {
			return nil, err
		}
		p.stack = append(p.stack, member{key, value})
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
	members := p.stack[base:]
	sortMembers(members)
	return members, nil
}

// enter counts an object or array opened at p.pos, refusing one nested
// deeper than maxDepth; leave counts it closed.
func (p *parser) enter() error {
	if p.depth++; p.depth > maxDepth {
		return p.errorf("nested deeper than %d", maxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// release drops the members on p.stack from base on.
func (p *parser) release(base int) {
	clear(p.stack[base:])
	p.stack = p.stack[:base]
}

// sortMembers sorts members by key, stably: members with the same key
// keep their order, so that the form is the same however often it is
// parsed again.
func sortMembers(members []member) {
	if len(members) > 16 {
		slices.SortStableFunc(members, func(a, b member) int { return strings.Compare(a.key, b.key) })
		return
	}
	// The objects of the log have a few members, often sorted already:
	// an insertion sort with the comparison inline costs a fraction of
	// the generic sort's calls.
	for i := 1; i < len(members); i++ {
		for j := i; j > 0 && members[j].key < members[j-1].key; j-- {
			members[j], members[j-1] = members[j-1], members[j]
		}
	}
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

// number returns the integer at p.pos, refusing fractions and exponents.
func (p *parser) number() ([]byte, error) {
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
	}
	integer := true
	if p.pos < len(p.src) && p.src[p.pos] == '.' {
		p.pos++
		if !p.digits() {
			return nil, p.errorf("a fraction without digits")
		}
		integer = false
	}
	if p.pos < len(p.src) && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.src) && (p.src[p.pos] == '+' || p.src[p.pos] == '-') {
			p.pos++
		}
		if !p.digits() {
			return nil, p.errorf("an exponent without digits")
		}
		integer = false
	}
	num := p.src[start:p.pos]
	if integer && string(num) == "-0" {
		num = num[1:]
	}
	return num, nil
}

// digits moves past one or more digits, reporting whether there were any.
func (p *parser) digits() bool {
	start := p.pos
	for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
		p.pos++
	}
	return p.pos > start
}

// string parses the string at p.pos and returns its value, and whether it
// had escapes. Without escapes the value is a view of the source.
func (p *parser) string() (string, bool, error) {
	p.pos++ // "
	src, start := p.src, p.pos
	i, high := start, byte(0)
	for i < len(src) && !special[src[i]] {
		high |= src[i]
		i++
	}
	p.pos = i
	switch {
	case i == len(src):
		return "", false, p.errorf("an unterminated string")
	case src[i] == '\\':
		s, err := p.escapedString(start)
		return s, true, err
	case src[i] < 0x20:
		return "", false, p.errorf("a control character in a string")
	}
	s := src[start:i]
	p.pos++
	if high >= utf8.RuneSelf && !utf8.Valid(s) {
		return validUTF8(s), true, nil
	}
	return unsafe.String(unsafe.SliceData(s), len(s)), false, nil
}

// special tells the bytes that end a string's plain run: the quote, the
// backslash and the control characters, which are escaped in the
// canonical form. Looking them up costs one load a byte.
var special = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// escapedString is string's slow path, from the first backslash on.
func (p *parser) escapedString(start int) (string, error) {
	b := append([]byte(nil), p.src[start:p.pos]...)
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '"':
			p.pos++
			return validUTF8(b), nil
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
				// A pair, or a lone half, read as U+FFFD (as encoding/json
				// reads it), leaving what follows to be read on its own.
				if p.pos+5 < len(p.src) && p.src[p.pos] == '\\' && p.src[p.pos+1] == 'u' {
					save := p.pos
					p.pos += 2
					if lo, ok := p.hex4(); ok && utf16.DecodeRune(r, lo) != utf8.RuneError {
						r = utf16.DecodeRune(r, lo)
					} else {
						p.pos, r = save, utf8.RuneError
					}
				} else {
					r = utf8.RuneError
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
	plain := 0
	for plain < len(s) && !special[s[plain]] {
		plain++
	}
	dst = append(dst, s[:plain]...)
	for i := plain; i < len(s); i++ {
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

// validUTF8 is b with each byte that is not part of valid UTF-8 read as
// U+FFFD, as encoding/json reads it.
func validUTF8(b []byte) string {
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		out = utf8.AppendRune(out, r) // RuneError for a bad byte, which n is 1 for
		b = b[n:]
	}
	return string(out)
}
