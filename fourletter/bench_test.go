package fourletter

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func benchParse(b *testing.B, file string, parse func([]byte) error) {
	body, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := parse(body); err != nil {
			b.Fatal(err)
		}
	}
}

func mntrParser(body []byte) error { _, err := ParseMntr(bytes.NewReader(body)); return err }
func srvrParser(body []byte) error { _, err := ParseSrvr(bytes.NewReader(body)); return err }
func confParser(body []byte) error { _, err := ParseConf(bytes.NewReader(body)); return err }

func BenchmarkParseMntrLeader38(b *testing.B) {
	benchParse(b, "3.8.0/healthy/leader-mntr.txt", mntrParser)
}
func BenchmarkParseMntrFollower38(b *testing.B) {
	benchParse(b, "3.8.0/healthy/follower-mntr.txt", mntrParser)
}
func BenchmarkParseMntr34(b *testing.B) { benchParse(b, "3.4/leader-3.4.6/mntr.txt", mntrParser) }
func BenchmarkParseSrvr(b *testing.B)   { benchParse(b, "3.8.0/healthy/leader-srvr.txt", srvrParser) }
func BenchmarkParseConf(b *testing.B)   { benchParse(b, "3.8.0/healthy/leader-conf.txt", confParser) }
