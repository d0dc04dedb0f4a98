package audit

import (
	"errors"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/eventstore"
)

// parseLine reads one line of an export: an event's JSON (relay.Message),
// whatever the order of its members and its whitespace. Its strings, data
// and metadata are views of line, which must not change afterwards. It
// checks the line's shape; data and metadata are checked when hashed.
func parseLine(line []byte) (eventstore.RecordedEvent, error) {
	var e eventstore.RecordedEvent
	p := parser{src: line}
	if p.skipSpace(); p.pos == len(line) || line[p.pos] != '{' {
		return e, errors.New("not a JSON object")
	}
	p.pos++
	var id, recordedAt string
	var revision, position []byte
	for first := true; ; first = false {
		if p.skipSpace(); p.pos < len(line) && line[p.pos] == '}' && first {
			p.pos++
			break
		}
		if p.pos == len(line) || line[p.pos] != '"' {
			return e, p.errorf("want a key")
		}
		key, _, err := p.string()
		if err != nil {
			return e, err
		}
		if p.skipSpace(); p.pos == len(line) || line[p.pos] != ':' {
			return e, p.errorf("want ':'")
		}
		p.pos++
		p.skipSpace()
		start := p.pos
		if err := p.skip(); err != nil {
			return e, err
		}
		raw := line[start:p.pos]
		switch key {
		case "id":
			id, err = stringValue(raw)
		case "type":
			e.Type, err = stringValue(raw)
		case "stream":
			e.Stream, err = stringValue(raw)
		case "recorded_at":
			recordedAt, err = stringValue(raw)
		case "revision":
			revision = raw
		case "position":
			position = raw
		case "data":
			e.Data = raw
		case "metadata":
			e.Metadata = raw
		}
		if err != nil {
			return e, err
		}
		p.skipSpace()
		if p.pos == len(line) {
			return e, p.errorf("unexpected end")
		}
		c := line[p.pos]
		p.pos++
		if c == '}' {
			break
		}
		if c != ',' {
			return e, p.errorf("want ',' or '}'")
		}
	}
	if p.skipSpace(); p.pos != len(line) {
		return e, p.errorf("text after the event")
	}
	var err error
	if e.ID, err = uuid.Parse(id); err != nil {
		return e, errors.New("its id is not a UUID")
	}
	if e.Revision, err = strconv.ParseUint(string(revision), 10, 64); err != nil {
		return e, errors.New("its revision is not a whole number")
	}
	pos, err := strconv.ParseUint(string(position), 10, 64)
	if err != nil || pos == 0 {
		return e, errors.New("its position is not a positive whole number")
	}
	e.Position = eventstore.Position(pos)
	if e.RecordedAt, err = time.Parse(time.RFC3339Nano, recordedAt); err != nil {
		return e, errors.New("its recorded_at is not an RFC 3339 time")
	}
	if e.Type == "" || e.Stream == "" || e.Data == nil || e.Metadata == nil {
		return e, errors.New("it lacks a type, a stream, data or metadata")
	}
	return e, nil
}

// stringValue is the value of the JSON string raw.
func stringValue(raw []byte) (string, error) {
	p := parser{src: raw}
	if len(raw) == 0 || raw[0] != '"' {
		return "", p.errorf("want a string")
	}
	s, _, err := p.string()
	return s, err
}

// skip moves past the value at p.pos, checking its shape.
func (p *parser) skip() error {
	p.skipSpace()
	if p.pos == len(p.src) {
		return p.errorf("unexpected end")
	}
	switch p.src[p.pos] {
	case '{', '[':
		if err := p.enter(); err != nil {
			return err
		}
		defer p.leave()
		closing := byte('}')
		if p.src[p.pos] == '[' {
			closing = ']'
		}
		object := closing == '}'
		p.pos++
		for first := true; ; first = false {
			if p.skipSpace(); p.pos < len(p.src) && p.src[p.pos] == closing && first {
				p.pos++
				return nil
			}
			if object {
				if p.pos == len(p.src) || p.src[p.pos] != '"' {
					return p.errorf("want a key")
				}
				if _, _, err := p.string(); err != nil {
					return err
				}
				if p.skipSpace(); p.pos == len(p.src) || p.src[p.pos] != ':' {
					return p.errorf("want ':'")
				}
				p.pos++
			}
			if err := p.skip(); err != nil {
				return err
			}
			if p.skipSpace(); p.pos == len(p.src) {
				return p.errorf("unexpected end")
			}
			c := p.src[p.pos]
			p.pos++
			if c == closing {
				return nil
			}
			if c != ',' {
				return p.errorf("want ',' or %q", closing)
			}
		}
	default:
		_, err := p.scalar()
		return err
	}
}
