// Package deploy holds no Go code: its tests check the shipped Prometheus
// rules, their Kubernetes twin and the runbooks they point at.
package deploy

import (
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/zookeeper-exporter/zookeeper_exporter/internal/zkensemble"
)

const (
	rulesFile          = "prometheus/zookeeper_alerts.yml"
	rulesTestFile      = "prometheus/zookeeper_alerts_test.yml"
	prometheusRuleFile = "kubernetes/zookeeper-prometheusrule.yaml"
	runbooks           = "../docs/runbooks.md"
)

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// TestPrometheusRuleMatchesRules keeps the Kubernetes PrometheusRule's
// groups identical to the plain rules file's. Both are generated from
// mixin/ ("make mixin"; the check module's TestMixinGenerated keeps them
// in step with it); this holds here too, where the mixin's renderer is not
// a dependency.
func TestPrometheusRuleMatchesRules(t *testing.T) {
	rules := readYAML(t, rulesFile)
	pr := readYAML(t, prometheusRuleFile)
	if pr["kind"] != "PrometheusRule" || pr["apiVersion"] != "monitoring.coreos.com/v1" {
		t.Errorf("%s: kind %v apiVersion %v", prometheusRuleFile, pr["kind"], pr["apiVersion"])
	}
	spec, _ := pr["spec"].(map[string]any)
	if !reflect.DeepEqual(spec["groups"], rules["groups"]) {
		t.Errorf("%s differs from %s: run make mixin", prometheusRuleFile, rulesFile)
	}
}

// TestAlertsHaveRunbooks: every alert carries severity, summary, description
// and a runbook_url whose anchor is a section of docs/runbooks.md.
func TestAlertsHaveRunbooks(t *testing.T) {
	doc, err := os.ReadFile(runbooks)
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^## (\S+)`).FindAllStringSubmatch(string(doc), -1) {
		anchors[strings.ToLower(m[1])] = true
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert       string
				Labels      map[string]string
				Annotations map[string]string
			}
		}
	}
	data, _ := os.ReadFile(rulesFile)
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatal(err)
	}
	tests, _ := os.ReadFile(rulesTestFile)
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			if sev := r.Labels["severity"]; sev != "critical" && sev != "warning" && sev != "info" {
				t.Errorf("%s: severity %q", r.Alert, r.Labels["severity"])
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[a] == "" {
					t.Errorf("%s: no %s", r.Alert, a)
				}
			}
			if !strings.Contains(r.Annotations["description"], "$labels.ensemble") && !strings.HasPrefix(r.Alert, "ZooKeeperExporter") {
				t.Errorf("%s: description does not name the ensemble", r.Alert)
			}
			_, anchor, _ := strings.Cut(r.Annotations["runbook_url"], "#")
			if anchor != strings.ToLower(r.Alert) || !anchors[anchor] {
				t.Errorf("%s: runbook_url anchor %q has no section in %s", r.Alert, anchor, runbooks)
			}
			// Each alert is tested both firing and quiet.
			firing := regexp.MustCompile(`alertname: ` + r.Alert + `\n\s+exp_alerts:\n\s+- exp_labels`)
			quiet := regexp.MustCompile(`alertname: ` + r.Alert + `\n\s+exp_alerts: \[\]`)
			if !firing.Match(tests) || !quiet.Match(tests) {
				t.Errorf("%s: %s lacks a firing or a quiet case (firing %v, quiet %v)", r.Alert, rulesTestFile, firing.Match(tests), quiet.Match(tests))
			}
		}
	}
	if n < 15 {
		t.Errorf("only %d alerts", n)
	}
}

// TestPromtool runs promtool check rules and promtool test rules.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		zkensemble.RequireTool(t, "promtool", err)
	}
	for _, args := range [][]string{{"check", "rules", rulesFile}, {"test", "rules", rulesTestFile}, {"check", "config", "prometheus/prometheus.yml"}, {"check", "config", "prometheus/prometheus-sharded.yml"}} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestAlertmanagerConfig checks the example Alertmanager configuration.
func TestAlertmanagerConfig(t *testing.T) {
	amtool, err := exec.LookPath("amtool")
	if err != nil {
		zkensemble.RequireTool(t, "amtool", err)
	}
	if out, err := exec.Command(amtool, "check-config", "alertmanager/alertmanager.yml").CombinedOutput(); err != nil {
		t.Errorf("amtool check-config: %v\n%s", err, out)
	}
}
