// Package dashboards holds the shipped Grafana dashboards (the JSON files
// here); its tests check their structure and that every query names a
// metric the exporter emits. The end-to-end test runs every panel query
// against a real Prometheus.
package dashboards

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

var (
	metricName = regexp.MustCompile(`\bzookeeper_[a-z0-9_]+`)
	matcher    = regexp.MustCompile(`(\w+)\s*(=~|!=|!~|=)\s*"([^"]*)"`)
	rangeSel   = regexp.MustCompile(`\[([^\]]+)\]`)
)

// emittedNames are the metric names of a full scrape of a 3+1 ensemble,
// replayed from real servers' replies (the collector's golden file).
func emittedNames(t *testing.T) map[string]bool {
	data, err := os.ReadFile("../collector/testdata/healthy.prom")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		names[name] = true
	}
	// Timings vary from run to run, so the golden file leaves them out.
	names["zookeeper_member_poll_duration_seconds"] = true
	names["zookeeper_ensemble_poll_duration_seconds"] = true
	return names
}

func TestDashboards(t *testing.T) {
	emitted := emittedNames(t)
	for file, vars := range files {
		t.Run(file, func(t *testing.T) {
			d, err := load(file)
			if err != nil {
				t.Fatal(err)
			}
			if d.UID == "" || d.Title == "" || d.SchemaVersion < 30 {
				t.Errorf("uid %q title %q schemaVersion %d", d.UID, d.Title, d.SchemaVersion)
			}
			have := map[string]string{}
			for _, v := range d.Templating.List {
				have[v.Name] = v.Type
			}
			for _, v := range vars {
				if have[v] == "" {
					t.Errorf("no template variable %q", v)
				}
			}
			if have["datasource"] != "datasource" {
				t.Errorf("the data source is not a datasource variable")
			}
			if len(d.Panels) < 8 {
				t.Errorf("only %d panels", len(d.Panels))
			}
			for _, p := range d.Panels {
				if p.Datasource.UID != "${datasource}" {
					t.Errorf("panel %q: datasource %q, want ${datasource}", p.Title, p.Datasource.UID)
				}
				if len(p.Targets) == 0 {
					t.Errorf("panel %q has no query", p.Title)
				}
				if p.Type == "timeseries" && p.FieldConfig.Defaults.Unit == "" {
					t.Errorf("panel %q has no unit", p.Title)
				}
				for _, tg := range p.Targets {
					checkExpr(t, p.Title, tg.Expr, emitted)
					if tg.Datasource.UID != "${datasource}" {
						t.Errorf("panel %q: a query's datasource is %q", p.Title, tg.Datasource.UID)
					}
				}
			}
		})
	}
}

func checkExpr(t *testing.T, panel, expr string, emitted map[string]bool) {
	t.Helper()
	if strings.TrimSpace(expr) == "" {
		t.Errorf("panel %q: empty query", panel)
		return
	}
	names := metricName.FindAllString(expr, -1)
	if len(names) == 0 {
		t.Errorf("panel %q: no zookeeper_ metric in %q", panel, expr)
	}
	for _, n := range names {
		if !emitted[n] {
			t.Errorf("panel %q: %s is not a metric the exporter emits", panel, n)
		}
	}
	// No hard-coded ensemble, server or instance: every label matcher
	// takes a variable, except the fixed label values of the exporter's own
	// enumerations.
	for _, m := range matcher.FindAllStringSubmatch(expr, -1) {
		label, value := m[1], m[3]
		switch label {
		case "state", "quantile", "command":
			continue
		case "instance", "job":
			t.Errorf("panel %q: matches on %s", panel, label)
		}
		if !strings.HasPrefix(value, "$") {
			t.Errorf("panel %q: %s=%q is hard-coded", panel, label, value)
		}
	}
	for _, r := range rangeSel.FindAllStringSubmatch(expr, -1) {
		if r[1] != "$__rate_interval" {
			t.Errorf("panel %q: range [%s], want [$__rate_interval]", panel, r[1])
		}
	}
}

// Dashboard is the part of Grafana's JSON model the tests look at.
type Dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []Panel `json:"panels"`
}

// Panel is one panel with its queries.
type Panel struct {
	Title      string `json:"title"`
	Type       string `json:"type"`
	Datasource struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr       string `json:"expr"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
	} `json:"targets"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
}

// files are the shipped dashboards and the variables each must template.
var files = map[string][]string{
	"zookeeper-ensemble.json": {"datasource", "ensemble"},
	"zookeeper-member.json":   {"datasource", "ensemble", "server"},
}

// load reads a dashboard file.
func load(path string) (Dashboard, error) {
	var d Dashboard
	data, err := os.ReadFile(path)
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return d, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}
