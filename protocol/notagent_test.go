package protocol

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

// A peer that answers anything but a Welcome of this protocol is not an
// agent (ErrNotAgent); one that closes without a word is a rejection.
func TestClientHandshakeNotAgent(t *testing.T) {
	var other bytes.Buffer
	_ = WriteMessage(&other, map[string]string{"magic": "someone-else"}, nil)
	tests := []struct {
		name   string
		answer []byte
		want   error
	}{
		{"garbage", []byte("\x00\x00\x00\x05{{{{{\x00\x00\x00\x00"), ErrNotAgent},
		{"http", []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), ErrNotAgent},
		{"a few bytes, then the end", []byte("\x00\x00"), ErrNotAgent},
		{"another magic", other.Bytes(), ErrNotAgent},
		{"nothing", nil, ErrRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc, sc := pipePair(t)
			go func() {
				var h Hello
				_, _ = ReadMessage(sc, &h, 1)
				_, _ = sc.Write(tt.answer)
				sc.Close()
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := ClientHandshake(ctx, cc, Hello{Token: "t"})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}
