package sqlite

import "testing"

// An event's data and metadata share one allocation (ownBytes): a caller
// appending to its data must not write over its metadata, and an empty
// column reads as nil, as scanning it into a []byte did.
func TestOwnBytesKeepsDataAndMetadataApart(t *testing.T) {
	data, metadata := ownBytes([]byte(`{"a":1}`), []byte(`{"m":2}`))
	data = append(data, `,"b"`...)
	if string(data) != `{"a":1},"b"` || string(metadata) != `{"m":2}` {
		t.Fatalf("after appending to data: data %q, metadata %q", data, metadata)
	}
	for _, c := range []struct{ a, b []byte }{{nil, nil}, {[]byte("x"), nil}, {nil, []byte("y")}, {[]byte{}, []byte{}}} {
		a, b := ownBytes(c.a, c.b)
		if (len(c.a) == 0) != (a == nil) || (len(c.b) == 0) != (b == nil) {
			t.Errorf("ownBytes(%q, %q) = %q, %q: an empty part must be nil, another not", c.a, c.b, a, b)
		}
	}
}
