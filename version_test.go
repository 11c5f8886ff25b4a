package main

import (
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zookeeper-exporter/zookeeper_exporter/internal/zkensemble"
)

// TestVersionEmbedded builds the binary the way make build and make release
// do, with version information in ldflags, and checks that --version prints
// it and zookeeper_exporter_build_info carries it.
func TestVersionEmbedded(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		zkensemble.RequireTool(t, "go", err)
	}
	bin := filepath.Join(t.TempDir(), "zookeeper_exporter")
	const v = "github.com/prometheus/common/version"
	build := exec.Command(goBin, "build", "-trimpath", "-o", bin, "-ldflags",
		"-X "+v+".Version=9.8.7-test -X "+v+".Revision=abc1234 -X "+v+".Branch=main -X "+v+".BuildUser=ci -X "+v+".BuildDate=20261122", ".")
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "version 9.8.7-test") || !strings.Contains(string(out), "revision: abc1234") {
		t.Errorf("--version: %v\n%s", err, out)
	}
	// The built binary itself, not the test binary, serves the metrics.
	port := freePort(t)
	cmd := exec.Command(bin, "--zookeeper.servers=127.0.0.1:1", "--web.listen-address=127.0.0.1:"+itoa(port))
	x := &exporter{t: t, cmd: cmd, base: "http://127.0.0.1:" + itoa(port), stderr: &syncBuffer{}}
	cmd.Stderr = x.stderr
	startProcess(t, "built exporter", cmd, x.stderr)
	waitUntil(t, 10*time.Second, "the built exporter", func() bool {
		resp, err := http.Get(x.base + "/-/ready")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	x.scrape("/metrics").expect(t, "zookeeper_exporter_build_info{version=9.8.7-test,revision=abc1234,branch=main} 1")
}

func itoa(i int) string { return strconv.Itoa(i) }
