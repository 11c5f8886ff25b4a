package fourletter

import (
	"io"
	"strings"
)

// readText reads a whole reply (already capped by the client) as a string
// in one allocation: a strings.Builder grown to the reply's size takes the
// bytes once and hands them over as the string, so every key and value
// parsed from it is a substring, not a copy.
func readText(r io.Reader) (string, error) {
	var sb strings.Builder
	// bytes.Reader and strings.Reader know their size and write themselves
	// out: one allocation, one copy, no intermediate buffer.
	if sized, ok := r.(interface {
		Len() int
		io.WriterTo
	}); ok && sized.Len() <= MaxResponseBytes {
		sb.Grow(sized.Len())
		_, err := sized.WriteTo(&sb)
		return sb.String(), err
	}
	_, err := io.Copy(&sb, io.LimitReader(r, MaxResponseBytes))
	return sb.String(), err
}
