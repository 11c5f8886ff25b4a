package fourletter

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"
)

// A parsed mntr keeps no byte of its reply's text: the keys, label names
// and strings are interned or copied, so the text goes to the GC.
func TestParseMntrKeepsNoText(t *testing.T) {
	text := "zk_version\t3.8.0-abc, built on 2022\nzk_server_state\tleader\nzk_avg_latency\t1\n" +
		"zk_watch_count\t3\nzk_rq{namespace=\"a\",quantile=\"0.5\"}\t2\n"
	m, err := parseMntrText(text)
	if err != nil {
		t.Fatal(err)
	}
	inside := func(what, s string) {
		if s == "" {
			return
		}
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		b := uintptr(unsafe.Pointer(unsafe.StringData(text)))
		if p >= b && p < b+uintptr(len(text)) {
			t.Errorf("%s %q points into the reply", what, s)
		}
	}
	inside("version", m.Version)
	inside("state", m.ServerState)
	if len(m.Samples) != 3 {
		t.Fatalf("samples: %+v", m.Samples)
	}
	for _, s := range m.Samples {
		inside("key", s.Key)
		for _, l := range s.Labels {
			inside("label name", l.Name)
			inside("label value", l.Value)
		}
	}
	// The same key from another reply is the same string.
	m2, _ := parseMntrText(strings.Clone(text))
	if unsafe.StringData(m2.Samples[0].Key) != unsafe.StringData(m.Samples[0].Key) {
		t.Error("avg_latency of two replies: two strings, not one interned")
	}
}

// A member sending fresh keys every time, or huge ones, gets copies: the
// table stays within its bounds.
func TestInternTableBounded(t *testing.T) {
	tab := internTable{maxEntries: 100, maxBytes: 1000, maxLen: 16}
	for i := range 10000 {
		k := fmt.Sprintf("key_%d", i)
		if got := tab.get(k); got != k {
			t.Fatalf("get(%q) = %q", k, got)
		}
	}
	long := strings.Repeat("x", 17)
	if tab.get(long) != long {
		t.Fatal("long key changed")
	}
	if len(tab.m) > 100 || tab.bytes > 1000 {
		t.Errorf("table holds %d entries, %d bytes; bounds 100, 1000", len(tab.m), tab.bytes)
	}
	if _, ok := tab.m[long]; ok {
		t.Error("a key over maxLen was kept")
	}
}
