package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
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
		`{"a":1.}`, `{"a":1e}`, `{"a":.5}`, `{"a":01}`, `{"a":1,"a":2}`, "\"a\x01\"",
		`{"a":1,}`, `{"a" 1}`, `[1 2]`, `{"a":tru}`, `{"a":1} x`, `"\x"`, `"open`, ``, `-`,
	} {
		if got, err := appendCanonical(nil, []byte(in)); !errors.Is(err, errNotCanonicalizable) {
			t.Errorf("%q: got %s, %v; want a refusal", in, got, err)
		}
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
