package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zookeeper-exporter/zookeeper_exporter/internal/fakezk"
)

// TestShardedProbes runs two exporter replicas with the same ensembles and a
// real Prometheus with deploy/prometheus/prometheus-sharded.yml: every
// ensemble is scraped exactly once, by one replica, and both replicas work.
func TestShardedProbes(t *testing.T) {
	promBin := requireBinary(t, "prometheus")
	dir := t.TempDir()
	const ensembles = 8
	var cfg, targets strings.Builder
	cfg.WriteString("ensembles:\n")
	var names []string
	for e := 0; e < ensembles; e++ {
		name := fmt.Sprintf("kafka-%02d", e)
		names = append(names, name)
		fmt.Fprintf(&cfg, "  - name: %s\n    servers: [", name)
		for m := 0; m < 3; m++ {
			srv := fakezk.New(t)
			srv.Set("srvr", []byte(fmt.Sprintf("Zookeeper version: 3.8.0\nZxid: 0x100000005\nMode: %s\n", map[bool]string{true: "leader", false: "follower"}[m == 0])), fakezk.Answer)
			if m > 0 {
				cfg.WriteString(", ")
			}
			fmt.Fprintf(&cfg, "%q", srv.Addr())
		}
		cfg.WriteString("]\n")
	}
	os.WriteFile(filepath.Join(dir, "zk.yml"), []byte(cfg.String()), 0o600)
	fmt.Fprintf(&targets, "- targets: [%s]\n", strings.Join(names, ", "))
	os.WriteFile(filepath.Join(dir, "zookeeper-ensembles.yml"), []byte(targets.String()), 0o600)

	a := startExporter(t, "--config.file="+filepath.Join(dir, "zk.yml"))
	b := startExporter(t, "--config.file="+filepath.Join(dir, "zk.yml"))
	example, err := os.ReadFile("deploy/prometheus/prometheus-sharded.yml")
	if err != nil {
		t.Fatal(err)
	}
	promCfg := strings.NewReplacer(
		"zookeeper-exporter-0:9141", strings.TrimPrefix(a.base, "http://"),
		"zookeeper-exporter-1:9141", strings.TrimPrefix(b.base, "http://"),
		"scrape_interval: 15s", "scrape_interval: 1s",
		"scrape_timeout: 10s", "scrape_timeout: 1s",
		"zookeeper-ensembles.yml", filepath.Join(dir, "zookeeper-ensembles.yml"),
	).Replace(string(example))
	os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(promCfg), 0o644)
	promAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startDaemon(t, "prometheus", promBin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+promAddr)
	prom := "http://" + promAddr

	var perEnsemble []promSample
	waitUntil(t, 60*time.Second, "every ensemble in Prometheus", func() bool {
		perEnsemble = promQuery(t, prom, "count by (ensemble) (zookeeper_ensemble_quorum)")
		return len(perEnsemble) == ensembles
	})
	time.Sleep(3 * time.Second) // a few more scrapes: a second scraper would show now
	perEnsemble = promQuery(t, prom, "count by (ensemble) (zookeeper_ensemble_quorum)")
	if len(perEnsemble) != ensembles {
		t.Fatalf("%d ensembles in Prometheus, want %d", len(perEnsemble), ensembles)
	}
	for _, s := range perEnsemble {
		if s.Value[1] != "1" {
			t.Errorf("ensemble %s scraped by %v targets, want exactly 1", s.Metric["ensemble"], s.Value[1])
		}
	}
	shards := promQuery(t, prom, "count by (job) (zookeeper_ensemble_quorum)")
	counts := map[string]string{}
	for _, s := range shards {
		counts[s.Metric["job"]] = fmt.Sprint(s.Value[1])
	}
	if len(counts) != 2 {
		t.Errorf("ensembles per shard %v: want both shards in use", counts)
	}
	t.Logf("%d ensembles, each scraped once; per shard: %v", ensembles, counts)
}
