package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/robotlabor/billing/eventstore"
)

// The metadata members that chain a stream's events.
const (
	hashKey     = "hash"
	prevHashKey = "prev_hash"
)

// link is what an event's metadata states of its chain. has is false for
// an event recorded before the log was hashed, which states nothing.
type link struct {
	hash, prev string
	has        bool // the metadata has a hash
	mentioned  bool // the metadata has a hash or a prev_hash
}

// hasher computes event hashes, reusing its buffer and parser: not safe
// for concurrent use.
type hasher struct {
	buf []byte
	p   parser
}

// sum returns the hash of e whose stream predecessor's hash is prev (""
// for a stream's first event), and what e's metadata states. The hash is
// SHA-256, in lowercase hex, over the canonical form of the object
//
//	{"data": …, "id": …, "metadata": …, "prev_hash": prev, "revision": …, "stream": …, "type": …}
//
// where metadata is e's without hash and prev_hash, and empty data or
// metadata count as {} (as exports show them).
func (h *hasher) sum(e *eventstore.RecordedEvent, prev string) (string, link, error) {
	sum, _, stated, err := h.digest(e, prev)
	return sum, stated, err
}

// digest is sum, also returning the metadata's members other than the
// chain's (on h.p's stack: valid until h is used again).
func (h *hasher) digest(e *eventstore.RecordedEvent, prev string) (string, []member, link, error) {
	b := append(h.buf[:0], `{"data":`...)
	var err error
	if len(e.Data) == 0 {
		b = append(b, "{}"...)
	} else if b, err = h.p.canonical(b, e.Data); err != nil {
		return "", nil, link{}, fmt.Errorf("data: %w", err)
	}
	rest, stated, err := h.p.metadata(e.Metadata) // on h.p's stack until its next use
	if err != nil {
		return "", nil, link{}, fmt.Errorf("metadata: %w", err)
	}
	b = append(b, `,"id":"`...)
	b = append(b, e.ID.String()...)
	b = append(b, `","metadata":`...)
	b = appendMembers(b, rest)
	b = append(b, `,"prev_hash":`...)
	b = appendString(b, prev)
	b = append(b, `,"revision":`...)
	b = strconv.AppendUint(b, e.Revision, 10)
	b = append(b, `,"stream":`...)
	b = appendString(b, e.Stream)
	b = append(b, `,"type":`...)
	b = appendString(b, e.Type)
	b = append(b, '}')
	h.buf = b
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), rest, stated, nil
}

// splitMetadata parses metadata (empty is {}) into its members other than
// the chain's, sorted, and the chain's link it states.
func splitMetadata(meta []byte) ([]member, link, error) {
	var p parser
	return p.metadata(meta)
}

// metadata is splitMetadata on p: the members are on p's stack, valid
// until p parses again.
func (p *parser) metadata(meta []byte) ([]member, link, error) {
	p.src, p.pos, p.depth = meta, 0, 0
	p.release(0)
	if len(meta) == 0 {
		return nil, link{}, nil
	}
	if p.skipSpace(); p.pos == len(meta) || meta[p.pos] != '{' {
		return nil, link{}, p.errorf("metadata must be an object")
	}
	members, err := p.object()
	if err != nil {
		return nil, link{}, err
	}
	if p.skipSpace(); p.pos != len(meta) {
		return nil, link{}, p.errorf("text after the metadata")
	}
	var l link
	rest := members[:0]
	for i, m := range members {
		switch m.key {
		case hashKey, prevHashKey:
			if i > 0 && members[i-1].key == m.key {
				return nil, link{}, fmt.Errorf("%w: %s stated twice", errNotCanonicalizable, m.key)
			}
			l.mentioned = true
			s, err := hexValue(m.value)
			if err != nil {
				return nil, link{}, fmt.Errorf("%s: %w", m.key, err)
			}
			if m.key == hashKey {
				l.hash, l.has = s, true
			} else {
				l.prev = s
			}
		default:
			rest = append(rest, m)
		}
	}
	return rest, l, nil
}

// hexValue is the hash in a canonical JSON string: empty or 64 lowercase
// hex digits, which need no escaping.
func hexValue(v []byte) (string, error) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", fmt.Errorf("%w: not a string", errNotCanonicalizable)
	}
	s := string(v[1 : len(v)-1])
	if s == "" {
		return s, nil
	}
	if b, err := hex.DecodeString(s); err != nil || len(b) != sha256.Size || hex.EncodeToString(b) != s {
		return "", fmt.Errorf("%w: %q is not a SHA-256 in lowercase hex", errNotCanonicalizable, s)
	}
	return s, nil
}

// linkedMetadata is metadata's members with the chain's link added, in
// canonical form: what an appended event stores.
func linkedMetadata(rest []member, prev, hash string) []byte {
	all := make([]member, 0, len(rest)+2)
	all = append(all, rest...)
	quoted := func(s string) []byte { return appendString(make([]byte, 0, len(s)+2), s) }
	all = append(all, member{hashKey, quoted(hash)}, member{prevHashKey, quoted(prev)})
	sortMembers(all)
	n := 2
	for _, m := range all {
		n += len(m.key) + len(m.value) + 4 // quotes, colon, comma
	}
	return appendMembers(make([]byte, 0, n), all)
}
