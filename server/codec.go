package server

import (
	"bytes"
	"encoding/json"
	"fmt"

	"go.lsp.dev/jsonrpc2"
)

// stdCodec encodes payloads with encoding/json, so the lsp types' omitempty
// tags mean what they say (jsonrpc2's default json/v2 codec keeps zero
// numbers and false).
type stdCodec struct{}

var _ jsonrpc2.Codec = stdCodec{}

func (stdCodec) Marshal(v any) ([]byte, error) {
	switch m := v.(type) {
	case jsonrpc2.RawMessage:
		if m == nil {
			return []byte("null"), nil
		}
		return m, nil
	case json.RawMessage:
		if m == nil {
			return []byte("null"), nil
		}
		return m, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encoding a payload: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func (stdCodec) Unmarshal(data []byte, v any) error {
	switch p := v.(type) {
	case *jsonrpc2.RawMessage:
		*p = append(jsonrpc2.RawMessage(nil), data...)
		return nil
	case *json.RawMessage:
		*p = append(json.RawMessage(nil), data...)
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decoding a payload: %w", err)
	}
	return nil
}
