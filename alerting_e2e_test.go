package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zookeeper-exporter/zookeeper_exporter/internal/zkensemble"
)

// TestAlertingEndToEnd: a real ensemble, the exporter, a real Prometheus
// (1s scrape and evaluation, the shipped rules with every for: cut to 3s)
// and a real Alertmanager. Healthy: nothing fires and every dashboard query
// returns data. One voter killed: MemberDown and QuorumAtRisk, not
// QuorumLost. A second voter: QuorumLost reaches Alertmanager. Both back:
// everything resolves.
func TestAlertingEndToEnd(t *testing.T) {
	promBin := requireBinary(t, "prometheus")
	amBin := requireBinary(t, "prometheus-alertmanager")
	e := zkensemble.Start(t, zkensemble.Options{Voters: 3, Observers: 1})
	writeSomeZnodes(t, e.Members[0].Addr())
	x := startExporter(t, "--zookeeper.servers="+e.Servers(), "--zookeeper.ensemble=e2e", "--zookeeper.timeout=1s")
	dir := t.TempDir()

	amAddr := "127.0.0.1:" + fmt.Sprint(freePort(t))
	startDaemon(t, "alertmanager", amBin, "--config.file=deploy/alertmanager/alertmanager.yml",
		"--storage.path="+filepath.Join(dir, "am"), "--web.listen-address="+amAddr, "--cluster.listen-address=")
	am := "http://" + amAddr

	rules, err := os.ReadFile("deploy/prometheus/zookeeper_alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	shortFor := regexp.MustCompile(`(?m)^(\s+)for: \S+$`).ReplaceAll(rules, []byte("${1}for: 3s"))
	os.WriteFile(filepath.Join(dir, "rules.yml"), shortFor, 0o644)
	promAddr := "127.0.0.1:" + fmt.Sprint(freePort(t))
	promCfg := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s, scrape_timeout: 1s}
rule_files: [%q]
alerting:
  alertmanagers: [{static_configs: [{targets: [%q]}]}]
scrape_configs:
  - job_name: zookeeper
    static_configs: [{targets: [%q]}]
`, filepath.Join(dir, "rules.yml"), amAddr, strings.TrimPrefix(x.base, "http://"))
	os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(promCfg), 0o644)
	startDaemon(t, "prometheus", promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+promAddr)
	prom := "http://" + promAddr

	waitUntil(t, 60*time.Second, "Prometheus to see quorum", func() bool {
		v := promQuery(t, prom, "zookeeper_ensemble_quorum")
		return len(v) == 1 && v[0].Value[1] == "1"
	})

	t.Run("1 healthy: nothing fires, every panel has data", func(t *testing.T) {
		time.Sleep(20 * time.Second) // enough samples for 15s rates
		if firing := promAlerts(t, prom, "firing"); len(firing) > 0 {
			t.Errorf("alerts firing on a healthy ensemble: %v", firing)
		}
		if got := amAlerts(t, am); len(got) > 0 {
			t.Errorf("Alertmanager holds alerts on a healthy ensemble: %v", got)
		}
		queries := 0
		files, _ := filepath.Glob(filepath.Join("dashboards", "*.json"))
		if len(files) == 0 {
			t.Fatal("no dashboard in dashboards/")
		}
		for _, file := range files {
			d := loadDashboard(t, file)
			servers := []string{""}
			if strings.Contains(file, "member") {
				servers = nil
				for _, m := range e.Members {
					servers = append(servers, m.Addr())
				}
			}
			for _, server := range servers {
				for _, p := range d.Panels {
					for _, tg := range p.Targets {
						q := strings.NewReplacer("$ensemble", "e2e", "$server", server, "$__rate_interval", "15s").Replace(tg.Expr)
						queries++
						if res := promQuery(t, prom, q); len(res) == 0 {
							t.Errorf("%s, panel %q (server %q): no data for %s", file, p.Title, server, q)
						}
					}
				}
			}
		}
		t.Logf("%d dashboard queries returned data", queries)
	})

	followers := e.Followers()
	if len(followers) != 2 {
		t.Fatalf("want 2 followers, have %d", len(followers))
	}

	t.Run("2 one voter killed: MemberDown and QuorumAtRisk, not QuorumLost", func(t *testing.T) {
		followers[0].Kill()
		killed := time.Now()
		seen := map[string]time.Duration{}
		waitUntil(t, 60*time.Second, "MemberDown and QuorumAtRisk in Alertmanager", func() bool {
			for _, name := range amAlerts(t, am) {
				if _, ok := seen[name]; !ok {
					seen[name] = time.Since(killed)
				}
			}
			_, down := seen["ZooKeeperMemberDown"]
			_, risk := seen["ZooKeeperQuorumAtRisk"]
			return down && risk
		})
		for name, d := range seen {
			t.Logf("kill -> %s in Alertmanager: %v", name, d.Round(100*time.Millisecond))
		}
		time.Sleep(5 * time.Second) // longer than QuorumLost's shortened for:
		for _, a := range promAlerts(t, prom, "") {
			if a == "ZooKeeperQuorumLost" || a == "ZooKeeperNoLeader" {
				t.Errorf("%s with one voter of three down", a)
			}
		}
	})

	t.Run("3 second voter killed: QuorumLost reaches Alertmanager", func(t *testing.T) {
		followers[1].Kill()
		killed := time.Now()
		waitUntil(t, 60*time.Second, "ZooKeeperQuorumLost in Alertmanager", func() bool {
			for _, name := range amAlerts(t, am) {
				if name == "ZooKeeperQuorumLost" {
					return true
				}
			}
			return false
		})
		t.Logf("kill -> ZooKeeperQuorumLost in Alertmanager: %v", time.Since(killed).Round(100*time.Millisecond))
	})

	t.Run("4 both restarted: everything resolves", func(t *testing.T) {
		for _, f := range followers {
			if err := f.Start(); err != nil {
				t.Fatal(err)
			}
		}
		restarted := time.Now()
		e.WaitServing(60*time.Second, e.Members...)
		waitUntil(t, 90*time.Second, "no alert firing in Prometheus nor active in Alertmanager", func() bool {
			return len(promAlerts(t, prom, "")) == 0 && len(amAlerts(t, am)) == 0
		})
		t.Logf("restart -> all alerts resolved in Alertmanager: %v", time.Since(restarted).Round(100*time.Millisecond))
	})
}

func requireBinary(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		zkensemble.RequireTool(t, name, err)
	}
	return path
}

// startDaemon runs a Prometheus-project daemon until the test ends.
func startDaemon(t *testing.T, name, bin string, args ...string) {
	t.Helper()
	log := &syncBuffer{}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	startProcess(t, name, cmd, log)
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func getJSON(t *testing.T, u string, v any) bool {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	return json.NewDecoder(resp.Body).Decode(v) == nil
}

type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// promQuery runs an instant query; a failing query fails the test.
func promQuery(t *testing.T, prom, q string) []promSample {
	t.Helper()
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []promSample `json:"result"`
		} `json:"data"`
		Error string `json:"error"`
	}
	resp, err := http.Get(prom + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil // Prometheus still starting
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusServiceUnavailable {
		return nil // Prometheus still loading its configuration: "Service Unavailable"
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	if r.Status != "success" {
		t.Fatalf("query %s: %s", q, r.Error)
	}
	return r.Data.Result
}

// promAlert is one alert Prometheus holds (pending or firing).
type promAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

// promAlertList is every alert Prometheus holds; false when
// /api/v1/alerts did not answer.
func promAlertList(t *testing.T, prom string) ([]promAlert, bool) {
	t.Helper()
	var r struct {
		Data struct {
			Alerts []promAlert `json:"alerts"`
		} `json:"data"`
	}
	ok := getJSON(t, prom+"/api/v1/alerts", &r)
	return r.Data.Alerts, ok
}

// promAlerts lists the ZooKeeper alerts in Prometheus in a state ("" for
// pending and firing).
func promAlerts(t *testing.T, prom, state string) []string {
	t.Helper()
	alerts, ok := promAlertList(t, prom)
	if !ok {
		t.Fatal("Prometheus /api/v1/alerts did not answer")
	}
	var out []string
	for _, a := range alerts {
		if state == "" || a.State == state {
			out = append(out, a.Labels["alertname"])
		}
	}
	return out
}

// amAlerts lists the alert names Alertmanager holds as active (not
// resolved), inhibited ones included.
func amAlerts(t *testing.T, am string) []string {
	t.Helper()
	var alerts []struct {
		Labels map[string]string `json:"labels"`
	}
	if !getJSON(t, am+"/api/v2/alerts", &alerts) {
		t.Fatal("Alertmanager /api/v2/alerts did not answer")
	}
	var out []string
	for _, a := range alerts {
		out = append(out, a.Labels["alertname"])
	}
	return out
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// writeSomeZnodes makes a little traffic (creates, reads, deletes) so the
// latency, fsync and request panels have something to show.
func writeSomeZnodes(t *testing.T, addr string) {
	t.Helper()
	conn, _, err := zk.Connect([]string{addr}, 5*time.Second, zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Create("/e2e", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create /e2e: %v", err)
	}
	for i := 0; i < 50; i++ {
		p := fmt.Sprintf("/e2e/n%d", i)
		if _, err := conn.Create(p, []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
		if _, _, err := conn.Get(p); err != nil {
			t.Fatal(err)
		}
	}
}

// dashboard is what the end-to-end test reads of a Grafana dashboard: the
// query of every panel (the structure is checked in dashboards/).
type dashboard struct {
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func loadDashboard(t *testing.T, path string) dashboard {
	t.Helper()
	var d dashboard
	data, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(data, &d)
	}
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return d
}
