package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zookeeper-exporter/zookeeper_exporter/internal/zkensemble"
)

// TestDockerfile: docker build cannot run here, so the Dockerfile is read:
// multi-stage, a static build, non-root, the exporter's port, OCI labels.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var stages, user, expose, entrypoint string
	labels := map[string]bool{}
	froms := 0
	for _, line := range strings.Split(strings.ReplaceAll(string(data), "\\\n", " "), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			froms++
			stages += line + "\n"
		case "USER":
			user = fields[1]
		case "EXPOSE":
			expose = fields[1]
		case "ENTRYPOINT":
			entrypoint = strings.Join(fields[1:], " ")
		case "LABEL":
			for _, m := range regexp.MustCompile(`(org\.opencontainers\.image\.\w+)=`).FindAllStringSubmatch(line, -1) {
				labels[m[1]] = true
			}
		case "ADD":
			t.Errorf("ADD fetches or unpacks implicitly; use COPY: %s", line)
		}
	}
	if froms < 2 {
		t.Errorf("%d FROM lines: want a build stage and a runtime stage", froms)
	}
	if !strings.Contains(stages, "static") && !strings.Contains(stages, "scratch") {
		t.Errorf("runtime stage is not a static/scratch image:\n%s", stages)
	}
	if user == "" || user == "root" || user == "0" || strings.HasPrefix(user, "0:") {
		t.Errorf("USER %q: want non-root", user)
	}
	if expose != "9141" {
		t.Errorf("EXPOSE %q, want 9141", expose)
	}
	if !strings.Contains(entrypoint, "zookeeper_exporter") {
		t.Errorf("ENTRYPOINT %q", entrypoint)
	}
	for _, l := range []string{"org.opencontainers.image.title", "org.opencontainers.image.description", "org.opencontainers.image.source", "org.opencontainers.image.licenses"} {
		if !labels[l] {
			t.Errorf("no LABEL %s", l)
		}
	}
	// The binary it builds must be static: make build sets CGO_ENABLED=0.
	mk, _ := os.ReadFile("../Makefile")
	if !strings.Contains(string(mk), "CGO_ENABLED=0") || !strings.Contains(string(data), "make build") {
		t.Error("the image does not build with make build (CGO_ENABLED=0)")
	}
}

// TestSystemdUnit runs systemd-analyze verify on the unit (with ExecStart
// pointing at a real executable) and checks the hardening it promises.
func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile("systemd/zookeeper_exporter.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "EnvironmentFile=-/etc/default/zookeeper_exporter", "ExecReload=/bin/kill -HUP $MAINPID"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %s", want)
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		zkensemble.RequireTool(t, "systemd-analyze", err)
	}
	dir := t.TempDir()
	bin, _ := exec.LookPath("true")
	text := strings.Replace(string(unit), "ExecStart=/usr/bin/zookeeper_exporter", "ExecStart="+bin, 1)
	path := filepath.Join(dir, "zookeeper_exporter.service")
	os.WriteFile(path, []byte(text), 0o644)
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	// Outside a booted systemd, verify may complain about the machine
	// (no /run/systemd); only findings about this unit count.
	var findings []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "zookeeper_exporter.service") {
			findings = append(findings, line)
		}
	}
	if len(findings) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, strings.Join(findings, "\n"))
	}
	t.Logf("systemd-analyze verify: %d findings about the unit (exit %v)", len(findings), err)
}
