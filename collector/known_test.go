package collector

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
)

// TestKnownCoversRecordedReplies: every passthrough metric of every real
// reply recorded under fourletter/testdata is known (knownKeys,
// knownStems), so it wins a tie against a shape a member makes up. A new
// recording with new keys fails here until they are added.
func TestKnownCoversRecordedReplies(t *testing.T) {
	var files []string
	for _, pattern := range []string{"../fourletter/testdata/*/*mntr*.txt", "../fourletter/testdata/*/*/*mntr*.txt"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	checked := 0
	for _, f := range files {
		if strings.Contains(filepath.Base(f), "synthetic") { // written by hand, not ZooKeeper
			continue
		}
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := fourletter.ParseMntr(bytes.NewReader(body))
		if err != nil {
			continue // refusals, empty replies
		}
		for _, mm := range NewNames(0).mapMntr(&m, DefaultLimits()) {
			if mm.drop != "" {
				t.Errorf("%s: a real reply dropped (%s)", f, mm.drop)
				continue
			}
			checked++
			if !mm.known {
				t.Errorf("%s: %s (%s) is not in knownKeys or knownStems", f, mm.name, mm.help)
			}
		}
	}
	if checked < 1000 {
		t.Fatalf("only %d metrics from %d recorded replies: the fixtures moved?", checked, len(files))
	}
	t.Logf("%d passthrough metrics of %d recorded replies, all known", checked, len(files))
}
