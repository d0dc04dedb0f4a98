package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestCanonicalForm(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"b":1,"a":2}`, `{"a":2,"b":1}`},
		{" { \"z\" : [ 1 , { \"y\":true, \"x\":null } ] ,\n\t\"a\":false } ", `{"a":false,"z":[1,{"x":null,"y":true}]}`},
		{`{"amount":9007199254740993}`, `{"amount":9007199254740993}`}, // beyond 2^53, kept exact
		{`{"n":-0,"m":-12}`, `{"m":-12,"n":0}`},
		{`"<tag> & \u00e9 \u65e5 \ud83e\udd16 /\/"`, `"<tag> & é 日 🤖 //"`},
		{`"\b\f\n\r\t\u0001\u001f\u007f\"\\"`, `"\b\f\n\r\t\u0001\u001f` + "\x7f" + `\"\\"`},
		{`"\u2028"`, "\"\u2028\""},
		{`{"é":1,"e":2,"z":3,"Z":4}`, `{"Z":4,"e":2,"z":3,"é":1}`}, // by UTF-8 bytes
		{`[]`, `[]`}, {`{}`, `{}`}, {` [ ] `, `[]`},
		// What providers may send: fractions and exponents as written,
		// bad UTF-8 and lone surrogates as U+FFFD.
		{`{"percent_off":25.50,"rate":1.2E-3,"n":-0.0}`, `{"n":-0.0,"percent_off":25.50,"rate":1.2E-3}`},
		{"\"a\xffb\"", "\"a\ufffdb\""}, {`"\ud83e"`, "\"\ufffd\""}, {`"\ud83ex\u00e9"`, "\"\ufffdxé\""}, {`"\udd16"`, "\"\ufffd\""},
		{`"\ud83e\u0041"`, "\"\ufffdA\""},
	} {
		got, err := appendCanonical(nil, []byte(c.in))
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if string(got) != c.want {
			t.Errorf("%s\n got %s\nwant %s", c.in, got, c.want)
		}
		again, err := appendCanonical(nil, got)
		if err != nil || !bytes.Equal(again, got) {
			t.Errorf("%s: the canonical form is not a fixed point: %s, %v", c.in, again, err)
		}
		if !sameJSON(t, c.in, string(got)) {
			t.Errorf("%s: canonical form %s means something else", c.in, got)
		}
	}
}

func TestCanonicalFormRefuses(t *testing.T) {
	for _, in := range []string{
		`{"a":1.}`, `{"a":1e}`, `{"a":.5}`, `{"a":01}`, "\"a\x01\"",
		`{"a":1,}`, `{"a" 1}`, `[1 2]`, `{"a":tru}`, `{"a":1} x`, `"\x"`, `"open`, ``, `-`,
	} {
		if got, err := appendCanonical(nil, []byte(in)); !errors.Is(err, errNotCanonicalizable) {
			t.Errorf("%q: got %s, %v; want a refusal", in, got, err)
		}
	}
}

// JSON allows a key twice in an object, and a provider may send one (or
// two keys that differ only in bytes that are not UTF-8, which both read
// as U+FFFD): both members are kept, in the order written, so that hashing
// never refuses a notice and every byte of it is covered.
func TestCanonicalFormKeepsAKeyTwiceInTheOrderWritten(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"b":1,"a":2,"b":3}`, `{"a":2,"b":1,"b":3}`},
		{`{"b":3,"a":2,"b":1}`, `{"a":2,"b":3,"b":1}`},
		{"{\"k\xff\":1,\"k\xfe\":2}", "{\"k\ufffd\":1,\"k\ufffd\":2}"},
	} {
		got, err := appendCanonical(nil, []byte(c.in))
		if err != nil || string(got) != c.want {
			t.Errorf("%q\n got %s, %v\nwant %s", c.in, got, err, c.want)
			continue
		}
		if again, err := appendCanonical(nil, got); err != nil || !bytes.Equal(again, got) {
			t.Errorf("%q: the canonical form is not a fixed point: %s, %v", c.in, again, err)
		}
	}
}

// Nesting is bounded as encoding/json bounds it: deeper text is refused,
// however deep, instead of exhausting the stack.
func TestCanonicalFormBoundsNesting(t *testing.T) {
	nested := func(depth int) string { return strings.Repeat(`[{"a":`, depth/2) + "1" + strings.Repeat("}]", depth/2) }
	if _, err := appendCanonical(nil, []byte(nested(maxDepth))); err != nil {
		t.Errorf("nested %d deep: %v", maxDepth, err)
	}
	for _, depth := range []int{maxDepth + 2, 1 << 24} {
		if _, err := appendCanonical(nil, []byte(nested(depth))); !errors.Is(err, errNotCanonicalizable) {
			t.Errorf("nested %d deep: %v, want a refusal", depth, err)
		}
	}
	var p parser // the bound holds within metadata too, and is reset for the next text
	if _, _, err := p.metadata([]byte(`{"m":` + nested(maxDepth+2) + `}`)); !errors.Is(err, errNotCanonicalizable) {
		t.Errorf("metadata nested too deep: %v, want a refusal", err)
	}
	if _, err := p.canonical(nil, []byte(nested(maxDepth))); err != nil {
		t.Errorf("after a refusal, nested %d deep: %v", maxDepth, err)
	}
}

func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	decode := func(s string) any {
		d := json.NewDecoder(bytes.NewReader([]byte(s)))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		return v
	}
	va, vb := decode(a), decode(b)
	if reflect.DeepEqual(va, vb) {
		return true
	}
	// -0 and 0 are one integer.
	return bytes.Contains([]byte(a), []byte("-0")) && reflect.DeepEqual(decode(string(bytes.ReplaceAll([]byte(a), []byte("-0"), []byte("0")))), vb)
}

// Any JSON has a canonical form, which is JSON and its own canonical form.
func FuzzCanonicalForm(f *testing.F) {
	for _, seed := range []string{`{"b":1,"a":[true,null,-0]}`, `"a\u00e9\ud83e\"\\"`, "\"a\xffb\"", `{"k":"v","k":1.5e3}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := appendCanonical(nil, in)
		if json.Valid(in) != (err == nil) {
			t.Fatalf("%q: json.Valid %v, canonical form %s, %v", in, json.Valid(in), got, err)
		}
		if err != nil {
			return
		}
		if again, err := appendCanonical(nil, got); err != nil || !bytes.Equal(again, got) || !json.Valid(got) {
			t.Errorf("%q: canonical form %s is not a JSON fixed point: %s, %v", in, got, again, err)
		}
	})
}
