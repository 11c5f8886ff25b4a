package fourletter

import (
	"bytes"
	"fmt"
)

// ParseIsro parses an `isro` reply: "rw", "ro", or "null" when the member is
// not serving. It returns that word.
func ParseIsro(body []byte) (string, error) {
	switch s := string(bytes.TrimSpace(body)); s {
	case "rw", "ro", "null":
		return s, nil
	case "":
		return "", ErrEmptyResponse
	default:
		return "", fmt.Errorf("isro: unexpected reply %q", truncate(s, 64))
	}
}
