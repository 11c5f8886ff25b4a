package fourletter

import (
	"bytes"
	"fmt"
)

// ParseRuok reports whether a `ruok` reply is "imok". ZooKeeper answers imok
// even when it is not serving: it proves only that the process is alive.
func ParseRuok(body []byte) (bool, error) {
	switch s := string(bytes.TrimSpace(body)); s {
	case "imok":
		return true, nil
	case "":
		return false, ErrEmptyResponse
	default:
		return false, fmt.Errorf("ruok: unexpected reply %q", truncate(s, 64))
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
