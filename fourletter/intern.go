package fourletter

import (
	"strings"
	"sync"
)

// mntrNames interns the keys and label names of mntr replies. ZooKeeper
// sends the same few hundred keys every time; a parsed reply whose keys
// were substrings of its text kept the whole text alive (at a thousand
// 3.8 members, 19 MB of replies held through every scrape). Interned, a
// parsed reply holds no byte of its text, which the GC takes once it is
// parsed.
var mntrNames = internTable{maxEntries: 8192, maxBytes: 1 << 20, maxLen: 128}

// internTable is bounded in entries and bytes, and keeps no string longer
// than maxLen: a member sending fresh or huge keys gets copies, never a
// growing table.
type internTable struct {
	mu                           sync.RWMutex
	m                            map[string]string
	bytes                        int
	maxEntries, maxBytes, maxLen int
}

// get returns s, interned or copied: never a substring of its text.
func (t *internTable) get(s string) string {
	t.mu.RLock()
	v, ok := t.m[s]
	t.mu.RUnlock()
	if ok {
		return v
	}
	c := strings.Clone(s)
	if len(s) > t.maxLen {
		return c
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if v, ok := t.m[s]; ok {
		return v
	}
	if len(t.m) < t.maxEntries && t.bytes+len(c) <= t.maxBytes {
		if t.m == nil {
			t.m = map[string]string{}
		}
		t.m[c] = c
		t.bytes += len(c)
	}
	return c
}
