package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zookeeper-exporter/zookeeper_exporter/internal/zkensemble"
)

// partition cuts the link between two "data centres" on one machine. Each
// side's processes (its ZooKeeper members and its exporter) run as their
// own user id; an nft table of this test alone marks every connection
// with the user that opened it, and, while cut, drops every packet a
// process of one side sends on a connection the other side opened (the
// SYN-ACK included, so a connection across the cut times out). Nothing
// else on the machine is touched: other processes (the test itself,
// Prometheus, other developers' tests) run as other users.
type partition struct {
	t          *testing.T
	nft, table string
	uids       [2]int
}

// newPartition loads the marking rules, before the processes start, so
// every connection between them is marked. The table goes in t.Cleanup,
// also when the test fails.
func newPartition(t *testing.T, uids [2]int) *partition {
	t.Helper()
	nft, err := exec.LookPath("nft")
	if err != nil {
		zkensemble.RequireTool(t, "nft (Debian's nftables, scripts/deps.sh installs it)", err)
	}
	p := &partition{t: t, nft: nft, table: fmt.Sprintf("zkexp_partition_%d", uids[0]), uids: uids}
	ruleset := fmt.Sprintf(`table inet %[1]s {
  chain output {
    type filter hook output priority 0; policy accept;
    ct state new meta skuid %[2]d ct mark set %[2]d
    ct state new meta skuid %[3]d ct mark set %[3]d
    jump cut
  }
  chain cut {
  }
}
`, p.table, uids[0], uids[1])
	if out, err := p.run(ruleset, "-f", "-"); err != nil {
		// A container without CAP_NET_ADMIN cannot load rules at all.
		zkensemble.RequireTool(t, "nft rules (root with CAP_NET_ADMIN)", fmt.Errorf("%v: %s", err, out))
	}
	t.Cleanup(func() {
		if out, err := p.run("", "delete", "table", "inet", p.table); err != nil {
			t.Errorf("removing nft table %s: %v: %s", p.table, err, out)
		}
	})
	return p
}

func (p *partition) run(stdin string, args ...string) (string, error) {
	cmd := exec.Command(p.nft, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Cut drops, both ways, what one side sends on the other side's
// connections.
func (p *partition) Cut() {
	p.t.Helper()
	for _, r := range [][2]int{{p.uids[0], p.uids[1]}, {p.uids[1], p.uids[0]}} {
		if out, err := p.run("", "add", "rule", "inet", p.table, "cut", "ct", "mark", strconv.Itoa(r[0]), "meta", "skuid", strconv.Itoa(r[1]), "drop"); err != nil {
			p.t.Fatalf("nft: %v: %s", err, out)
		}
	}
}

// Heal removes the drop rules.
func (p *partition) Heal() {
	p.t.Helper()
	if out, err := p.run("", "flush", "chain", "inet", p.table, "cut"); err != nil {
		p.t.Fatalf("nft: %v: %s", err, out)
	}
}

// startExporterAs runs the exporter as uid (a copy of the test binary
// every user can run) on a free loopback port.
func startExporterAs(t *testing.T, uid int, args ...string) *exporter {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	bin := filepath.Join(dir, "zookeeper_exporter")
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err == nil {
		_, err = io.Copy(dst, src)
		dst.Close()
	}
	src.Close()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	cmd := exec.Command(bin, append([]string{"--web.listen-address=" + addr}, args...)...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	x := &exporter{t: t, cmd: cmd, base: "http://" + addr, stderr: &syncBuffer{}}
	cmd.Stderr = x.stderr
	exited := startProcess(t, "exporter", cmd, x.stderr)
	waitUntil(t, 20*time.Second, "exporter ready", func() bool {
		select {
		case <-exited:
			t.Fatalf("exporter exited: %s", x.stderr.String())
		default:
		}
		resp, err := http.Get(x.base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return x
}

// promAlertStates maps "alertname{vantage}" to the state (pending,
// firing) of every alert Prometheus holds.
func promAlertStates(t *testing.T, prom string) map[string]string {
	t.Helper()
	alerts, ok := promAlertList(t, prom)
	if !ok {
		return nil
	}
	out := map[string]string{}
	for _, a := range alerts {
		k := a.Labels["alertname"]
		if v := a.Labels["vantage"]; v != "" {
			k += "{vantage=" + v + "}"
		}
		out[k] = a.State
	}
	return out
}

// TestPartition: 3 voters in dc1, 2 voters and an observer in dc2 (a
// 127.R.1.x and a 127.R.2.x "data centre"), one exporter per side with
// the client probe, a real Prometheus scraping both. The link is cut:
// dc2's exporter sees its members not serving, quorum 0 and its probes
// failing with connection loss; dc1's sees quorum 1 and its probes
// succeeding; ZooKeeperPartitioned fires, and ZooKeeperQuorumLost for dc2
// only. Healed, both resolve.
func TestPartition(t *testing.T) {
	if os.Geteuid() != 0 {
		zkensemble.RequireTool(t, "root (user ids per side, nft rules)", fmt.Errorf("running as uid %d", os.Geteuid()))
	}
	promBin := requireBinary(t, "prometheus")
	zkensemble.Require(t)
	// Addresses and user ids of this run only: other tests on the machine
	// use 127.0.0.x and other users.
	octet := 16 + rand.IntN(200)
	uidA := 40000 + 2*rand.IntN(10000)
	uids := [2]int{uidA, uidA + 1}
	part := newPartition(t, uids)
	var hosts []string
	var memberUIDs []int
	for id := 1; id <= 6; id++ {
		side := 1
		if id > 3 {
			side = 2
		}
		hosts = append(hosts, fmt.Sprintf("127.%d.%d.%d", octet, side, id))
		memberUIDs = append(memberUIDs, uids[side-1])
	}
	e := zkensemble.Start(t, zkensemble.Options{Voters: 5, Observers: 1, Hosts: hosts, UIDs: memberUIDs})
	dc1, dc2 := e.Members[:3], e.Members[3:]

	common := []string{"--zookeeper.servers=" + e.Servers(), "--zookeeper.ensemble=part", "--zookeeper.timeout=1500ms",
		"--zookeeper.client-probe", "--zookeeper.client-probe.interval=1s", "--zookeeper.client-probe.canary-znode=/partition-canary"}
	xa := startExporterAs(t, uids[0], append(common, "--exporter.vantage=dc1")...)
	xb := startExporterAs(t, uids[1], append(common, "--exporter.vantage=dc2")...)

	dir := t.TempDir()
	rules, err := os.ReadFile("deploy/prometheus/zookeeper_alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	// for: cut to 5s, longer than the 2s scrape interval.
	os.WriteFile(filepath.Join(dir, "rules.yml"), regexp.MustCompile(`(?m)^(\s+)for: \S+$`).ReplaceAll(rules, []byte("${1}for: 5s")), 0o644)
	promAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(fmt.Sprintf(`global: {scrape_interval: 2s, evaluation_interval: 1s, scrape_timeout: 2s}
rule_files: [%q]
scrape_configs:
  - job_name: zookeeper
    static_configs: [{targets: [%q, %q]}]
`, filepath.Join(dir, "rules.yml"), strings.TrimPrefix(xa.base, "http://"), strings.TrimPrefix(xb.base, "http://"))), 0o644)
	startDaemon(t, "prometheus", promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+promAddr)
	prom := "http://" + promAddr

	probeOK := func(s scrape, members []*zkensemble.Member, want float64) bool {
		for _, m := range members {
			if v, ok := s.value("zookeeper_client_probe_success", "server="+m.Addr()); !ok || v != want {
				return false
			}
		}
		return true
	}
	serving := func(s scrape, members []*zkensemble.Member, want float64) bool {
		for _, m := range members {
			if v, ok := s.value("zookeeper_serving", "server="+m.Addr()); !ok || v != want {
				return false
			}
		}
		return true
	}
	quorum := func(s scrape) float64 { v, _ := s.value("zookeeper_ensemble_quorum", ""); return v }

	xa.waitScrape(t, 60*time.Second, "dc1: quorum and every probe succeeding", func(s scrape) bool {
		return quorum(s) == 1 && probeOK(s, e.Members, 1)
	})
	xb.waitScrape(t, 60*time.Second, "dc2: quorum and every probe succeeding", func(s scrape) bool {
		return quorum(s) == 1 && probeOK(s, e.Members, 1)
	})
	waitUntil(t, 60*time.Second, "Prometheus to see quorum from both vantage points", func() bool {
		v := promQuery(t, prom, `zookeeper_ensemble_quorum * on (instance, job, ensemble) group_left (vantage) zookeeper_ensemble_vantage_info == 1`)
		return len(v) == 2
	})
	if a := promAlertStates(t, prom); a["ZooKeeperPartitioned"] != "" || a["ZooKeeperQuorumLost{vantage=dc1}"] != "" || a["ZooKeeperQuorumLost{vantage=dc2}"] != "" {
		t.Fatalf("alerts before the cut: %v", a)
	}
	before := xa.scrape("/metrics")
	leader := e.Leader()
	t.Logf("healthy: leader %s; probe cost from dc1 (per member per probe): %s", leader.Addr(), probeCost(before, e.Members))

	part.Cut()
	cut := time.Now()
	rec := recordAlerts(t, prom, cut)
	t.Logf("link cut between dc1 (%s) and dc2 (%s)", hosts[0]+".."+hosts[2], hosts[3]+".."+hosts[5])

	t.Run("each side sees its own", func(t *testing.T) {
		sb := xb.waitScrape(t, 90*time.Second, "dc2: quorum 0, its members not serving, its probes failing with connection loss", func(s scrape) bool {
			if quorum(s) != 0 || !serving(s, e.Members, 0) {
				return false
			}
			for _, m := range dc2 {
				if v, ok := s.value("zookeeper_client_probe_failure_reason", "server="+m.Addr()+",reason=connection_loss"); !ok || v != 1 {
					return false
				}
			}
			return true
		})
		sa := xa.waitScrape(t, 90*time.Second, "dc1: quorum 1, its members serving, its probes succeeding", func(s scrape) bool {
			return quorum(s) == 1 && serving(s, dc1, 1) && serving(s, dc2, 0) && probeOK(s, dc1, 1) && probeOK(s, dc2, 0)
		})
		t.Logf("cut -> both views settled: %v", time.Since(cut).Round(100*time.Millisecond))
		// The probe's, canary's and vantage series, failing and not, pass
		// promtool check metrics with no finding.
		if promtool, err := exec.LookPath("promtool"); err == nil {
			for _, sc := range []scrape{sa, sb} {
				cmd := exec.Command(promtool, "check", "metrics")
				cmd.Stdin = strings.NewReader(string(sc.body))
				if out, err := cmd.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) != 0 {
					t.Errorf("promtool check metrics: %v\n%s", err, out)
				}
			}
		} else {
			zkensemble.RequireTool(t, "promtool", err)
		}
		t.Logf("dc1's exporter:\n%s", keySeries(sa, e.Members))
		t.Logf("dc2's exporter:\n%s", keySeries(sb, e.Members))
	})

	t.Run("Prometheus: Partitioned, QuorumLost for dc2 only", func(t *testing.T) {
		waitUntil(t, 90*time.Second, "ZooKeeperPartitioned and ZooKeeperQuorumLost{vantage=dc2} firing", func() bool {
			a := promAlertStates(t, prom)
			if a["ZooKeeperQuorumLost{vantage=dc1}"] != "" {
				t.Fatalf("ZooKeeperQuorumLost on the majority side's series: %v", a)
			}
			return a["ZooKeeperPartitioned"] == "firing" && a["ZooKeeperQuorumLost{vantage=dc2}"] == "firing"
		})
		time.Sleep(6 * time.Second) // longer than the shortened for:
		if a := promAlertStates(t, prom); a["ZooKeeperQuorumLost{vantage=dc1}"] != "" || a["ZooKeeperQuorumLost"] != "" {
			t.Errorf("ZooKeeperQuorumLost beyond dc2's series: %v", a)
		}
	})

	part.Heal()
	healed := time.Now()
	t.Run("healed: both resolve", func(t *testing.T) {
		e.WaitServing(120*time.Second, e.Members...)
		for _, x := range []*exporter{xa, xb} {
			x.waitScrape(t, 60*time.Second, "quorum and every probe succeeding again", func(s scrape) bool {
				return quorum(s) == 1 && serving(s, e.Members, 1) && probeOK(s, e.Members, 1)
			})
		}
		waitUntil(t, 90*time.Second, "ZooKeeperPartitioned and ZooKeeperQuorumLost resolved", func() bool {
			a := promAlertStates(t, prom)
			return a["ZooKeeperPartitioned"] == "" && a["ZooKeeperQuorumLost{vantage=dc2}"] == ""
		})
		t.Logf("heal (at +%v) -> Partitioned and QuorumLost resolved: %v", healed.Sub(cut).Round(100*time.Millisecond), time.Since(healed).Round(100*time.Millisecond))
		t.Logf("alert timeline from Prometheus (every 250ms, seconds after the cut):\n%s", rec.stop())
		t.Logf("probe cost from dc1 after the heal: %s", probeCost(xa.scrape("/metrics"), e.Members))
	})
}

// keySeries is one exporter's view: quorum, and per member serving, the
// probe's success or reason.
func keySeries(s scrape, members []*zkensemble.Member) string {
	var b strings.Builder
	q, _ := s.value("zookeeper_ensemble_quorum", "")
	vu, _ := s.value("zookeeper_ensemble_voters_up", "")
	cw, _ := s.value("zookeeper_canary_write_success", "")
	fmt.Fprintf(&b, "  ensemble_quorum %v voters_up %v canary_write_success %v\n", q, vu, cw)
	for _, m := range members {
		serving, _ := s.value("zookeeper_serving", "server="+m.Addr())
		ok, _ := s.value("zookeeper_client_probe_success", "server="+m.Addr())
		reason := ""
		for _, r := range []string{"refused", "timeout", "connection_loss", "session_expired", "auth_failed", "not_serving", "other"} {
			if v, found := s.value("zookeeper_client_probe_failure_reason", "server="+m.Addr()+",reason="+r); found && v == 1 {
				reason = r
			}
		}
		fmt.Fprintf(&b, "  %-20s serving %v client_probe_success %v %s\n", m.Addr(), serving, ok, reason)
	}
	return b.String()
}

// probeCost: connections opened so far and the session and read times of
// the last probe of each member.
func probeCost(s scrape, members []*zkensemble.Member) string {
	conns, _ := s.value("zookeeper_client_probe_connections_total", "")
	var parts []string
	for _, m := range members {
		sess, _ := s.value("zookeeper_client_probe_session_seconds", "server="+m.Addr())
		read, _ := s.value("zookeeper_client_probe_read_seconds", "server="+m.Addr())
		parts = append(parts, fmt.Sprintf("%s session %.1fms read %.1fms", m.Addr(), sess*1000, read*1000))
	}
	return fmt.Sprintf("connections_total %v; %s", conns, strings.Join(parts, "; "))
}

// alertRecorder samples Prometheus' alerts in the background and keeps
// when each alert was first seen in each state and when it was last seen.
type alertRecorder struct {
	done  chan struct{}
	ended chan struct{}
	since time.Time
	first map[string]time.Duration // "name state" -> first seen
	last  map[string]time.Duration // name -> last seen
}

func recordAlerts(t *testing.T, prom string, since time.Time) *alertRecorder {
	r := &alertRecorder{done: make(chan struct{}), ended: make(chan struct{}), since: since, first: map[string]time.Duration{}, last: map[string]time.Duration{}}
	go func() {
		defer close(r.ended)
		for {
			for name, st := range promAlertStates(t, prom) {
				at := time.Since(since)
				if _, ok := r.first[name+" "+st]; !ok {
					r.first[name+" "+st] = at
				}
				r.last[name] = at
			}
			select {
			case <-r.done:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			close(r.done)
		}
		<-r.ended
	})
	return r
}

// stop ends the sampling and returns the timeline.
func (r *alertRecorder) stop() string {
	close(r.done)
	<-r.ended
	type event struct {
		at   time.Duration
		what string
	}
	var events []event
	for k, at := range r.first {
		events = append(events, event{at, k})
	}
	for name, at := range r.last {
		events = append(events, event{at + 250*time.Millisecond, name + " gone (last seen +" + at.Round(100*time.Millisecond).String() + ")"})
	}
	sort.Slice(events, func(i, j int) bool { return events[i].at < events[j].at })
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "  +%-7v %s\n", e.at.Round(100*time.Millisecond), e.what)
	}
	return b.String()
}
