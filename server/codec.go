package server

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// encodeResult encodes a request's result with encoding/json, the encoding
// go.lsp.dev/protocol's types are written for. jsonrpc2 then embeds the
// bytes in the response. Encoding before replying means a result that
// cannot be encoded is still answered (InternalError): jsonrpc2 v0.10's
// Replier sends nothing when its own encoding fails.
func encodeResult(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encoding a result: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
