// Package jsontest helps the tests that hold a decoder without reflection
// to encoding/json's outcome for the same text.
package jsontest

// Mutations are body cut short at every byte, and with each byte replaced
// by each of a few that change its meaning.
func Mutations(body []byte) [][]byte {
	var out [][]byte
	for i := range body {
		out = append(out, body[:i])
		for _, c := range []byte(` "\:,{}[]0-.eEnt` + "\x00\x7f\xc3") {
			m := append([]byte(nil), body...)
			m[i] = c
			out = append(out, m)
		}
	}
	return out
}
