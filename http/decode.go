package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// maxBody is the largest request body accepted (api.md: 64 KiB).
const maxBody = 64 << 10

// limitBody answers 413 for a body over n bytes, whether or not it
// declares its length.
func limitBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > n {
			fail(c, tooLarge(n))
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		c.Next()
	}
}

// tooLarge refuses a body over limit bytes, saying the limit.
func tooLarge(limit int64) *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large",
		Message: fmt.Sprintf("the request body is larger than %s, the limit", sizeOf(limit))}
}

// sizeOf is n bytes for people: 64 KiB, 1 MiB, 100 bytes.
func sizeOf(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// decodeJSON reads the body into dst strictly: one JSON object, no unknown
// fields, no trailing data, the right JSON types. Malformed input is a 400
// invalid_request naming the field where it can; so is a body that is not
// valid UTF-8. An empty body is allowed
// only when emptyOK.
func decodeJSON(c *gin.Context, dst any, emptyOK bool) error {
	body, err := io.ReadAll(c.Request.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return tooLarge(tooBig.Limit)
	}
	if err != nil {
		return invalidRequest("", "could not read the request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if emptyOK {
			return nil
		}
		return invalidRequest("", "the request body must be a JSON object")
	}
	if body = bytes.TrimSpace(body); body[0] != '{' {
		return invalidRequest("", "the request body must be a JSON object")
	}
	// encoding/json would replace each invalid byte with U+FFFD, so two
	// different keys could decode to the same string.
	if !utf8.Valid(body) {
		return invalidRequest("", "the request body is not valid UTF-8")
	}
	if p, ok := dst.(plainDecoder); ok && p.decodePlain(body) {
		return nil
	}
	return decodeStrict(body, dst)
}

// plainDecoder is a request that can read its plain form without
// reflection: an object of its own keys, exactly as spelled, with values
// jsonx.Scanner reads. decodePlain reports false for anything else, having
// left the request as it found it, and decodeStrict then decides, so that
// the outcome is always exactly encoding/json's.
type plainDecoder interface {
	decodePlain(body []byte) bool
}

// decodeStrict is decodeJSON's reading of a UTF-8 body that starts an
// object, by encoding/json.
func decodeStrict(body []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return invalidRequest("", "the request body must hold one JSON object and nothing after it")
	}
	return nil
}

func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return invalidRequest(typeErr.Field, fmt.Sprintf("%s must be a JSON %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String())))
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return invalidRequest("", "the request body is not valid JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return invalidRequest(field, fmt.Sprintf("unknown field %q", field))
	}
	return invalidRequest("", "the request body is not valid JSON")
}

func jsonKind(goKind string) string {
	switch {
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "uint"):
		return "integer"
	case goKind == "string":
		return "string"
	}
	return goKind
}

func invalidRequest(param, msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: msg, Param: param}
}

func validationFailed(param, msg string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: "validation_failed", Message: msg, Param: param}
}
