package check

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-jsonnet"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "regenerate the files generated from mixin/ (make mixin)")

// root is the repository's top, seen from this module.
const root = "../../.."

// renderSnippet turns the mixin, plus override (jsonnet, as a user writes
// it: { _config+:: { ... } }), into the files the project ships, named by
// path from the repository's top. Keys are sorted (jsonnet's manifest functions sort
// them), strings with line breaks become YAML block scalars.
const renderSnippet = `
local m = (import 'mixin.libsonnet') + std.extVar('override');
local rules = std.manifestYamlDoc(m.prometheusAlerts, indent_array_in_object=true, quote_keys=false);
local dashboards = {
  [name]: std.manifestJsonEx(m.grafanaDashboards[name], '  ') + '\n'
  for name in std.objectFields(m.grafanaDashboards)
};
{
  'deploy/prometheus/zookeeper_alerts.yml': std.extVar('rulesHeader') + rules + '\n',
  'deploy/kubernetes/zookeeper-prometheusrule.yaml': std.extVar('ruleHeader') + std.manifestYamlDoc({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'zookeeper-exporter',
      labels: { 'app.kubernetes.io/name': 'zookeeper-exporter', 'app.kubernetes.io/component': 'alerting' },
    },
    spec: m.prometheusAlerts,
  }, indent_array_in_object=true, quote_keys=false) + '\n',
  // The chart can only read files inside its own folder.
  'deploy/helm/zookeeper-exporter/files/zookeeper_alerts.yml': std.extVar('chartHeader') + rules + '\n',
} + {
  ['dashboards/' + name]: dashboards[name]
  for name in std.objectFields(dashboards)
} + {
  ['deploy/helm/zookeeper-exporter/files/dashboards/' + name]: dashboards[name]
  for name in std.objectFields(dashboards)
}
`

const generatedBy = `# Generated from mixin/ by "make mixin": edit mixin/*.libsonnet, not this
# file. mixin/alerts.libsonnet says why each rule is as it is.
`

// renderMixin renders the mixin plus override (jsonnet code).
func renderMixin(t *testing.T, override string) map[string]string {
	t.Helper()
	vm := jsonnet.MakeVM()
	vm.Importer(&jsonnet.FileImporter{JPaths: []string{filepath.Join(root, "mixin")}})
	vm.ExtCode("override", override)
	vm.ExtVar("rulesHeader", generatedBy+"# The same groups as deploy/kubernetes/zookeeper-prometheusrule.yaml.\n")
	vm.ExtVar("ruleHeader", generatedBy)
	vm.ExtVar("chartHeader", generatedBy+"# The chart's PrometheusRule carries these groups.\n")
	out, err := vm.EvaluateAnonymousSnippetMulti("render.jsonnet", renderSnippet)
	if err != nil {
		t.Fatalf("rendering the mixin: %v", err)
	}
	files := map[string]string{}
	for name, v := range out {
		var s string
		if err := json.Unmarshal([]byte(v), &s); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		files[name] = s
	}
	return files
}

// TestMixinGenerated: the committed rules, PrometheusRule and dashboards
// are what the mixin renders with its default _config; -update (make
// mixin) writes them.
func TestMixinGenerated(t *testing.T) {
	files := renderMixin(t, "{}")
	if len(files) < 7 {
		t.Fatalf("the mixin rendered only %d files", len(files))
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(root, name)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(files[name]), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		have, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v (run make mixin)", name, err)
			continue
		}
		if string(have) != files[name] {
			t.Errorf("%s differs from what mixin/ renders: edit mixin/ and run make mixin\n%s", name, firstDiff(string(have), files[name]))
		}
	}
	// Nothing stale beside the generated dashboards.
	for _, dir := range []string{"dashboards", "deploy/helm/zookeeper-exporter/files/dashboards"} {
		found, _ := filepath.Glob(filepath.Join(root, dir, "*.json"))
		for _, f := range found {
			rel, _ := filepath.Rel(root, f)
			if _, ok := files[filepath.ToSlash(rel)]; !ok {
				t.Errorf("%s is not rendered by mixin/: remove it or add it to the mixin", rel)
			}
		}
	}
}

// firstDiff shows the first line where two texts part.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n  committed: %s\n  mixin:     %s", i+1, x, y)
		}
	}
	return ""
}

// alertRule is the part of a rendered rule these tests read.
type alertRule struct {
	Alert, Expr, For string
	Labels           map[string]string
	Annotations      map[string]string
}

func parseRules(t *testing.T, text string) []alertRule {
	t.Helper()
	var f struct {
		Groups []struct {
			Name  string
			Rules []alertRule
		}
	}
	if err := yaml.UnmarshalStrict([]byte(text), &f); err != nil {
		t.Fatalf("the rendered rules: %v", err)
	}
	var rules []alertRule
	for _, g := range f.Groups {
		rules = append(rules, g.Rules...)
	}
	return rules
}

// metricSelector finds each series selector of the rules' expressions:
// the exporter's families and Prometheus' own up, with their matchers.
var metricSelector = regexp.MustCompile(`\b(zookeeper_[a-z0-9_]+|up)\b(\{[^}]*\})?`)

// unselected lists the series selectors of expr that lack matchers.
func unselected(expr, matchers string) []string {
	var bad []string
	for _, m := range metricSelector.FindAllStringSubmatch(expr, -1) {
		if !strings.Contains(m[2], matchers) {
			bad = append(bad, m[0])
		}
	}
	return bad
}

const defaultRunbooks = "https://github.com/zookeeper-exporter/zookeeper_exporter/blob/main/docs/runbooks.md#"

// TestMixinCustomConfig renders the mixin with a user's _config: another
// job selector (in every series selector of every alert, where promtool
// checks the rules and runs the shipped rule tests on series of that job),
// other for: durations, thresholds, runbook URLs and dashboard tags.
func TestMixinCustomConfig(t *testing.T) {
	promtool := lookTool(t, "promtool")
	shippedTests, err := os.ReadFile(filepath.Join(root, "deploy/prometheus/zookeeper_alerts_test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, override string
		selector       string            // the matchers every series selector must carry
		job            string            // run the shipped rule tests on series of this job instead of "zookeeper"
		runbooks       string            // the runbook URLs' prefix
		forDurations   map[string]string // alert: for
		exprHas        map[string]string // alert: a piece of its expression
		summaryHas     map[string]string // alert: a piece of its summary
		tags           []string          // the dashboards' tags
	}{
		{
			name: "another job selector",
			override: `{ _config+:: {
				zookeeperExporterSelector: 'job=~"zk-kafka|zk-solr"',
				runbookURLPattern: 'https://wiki.example.com/zookeeper#%s',
			} }`,
			selector:     `job=~"zk-kafka|zk-solr"`,
			job:          "zk-kafka",
			runbooks:     "https://wiki.example.com/zookeeper#",
			forDurations: map[string]string{"ZooKeeperQuorumLost": "30s", "ZooKeeperMemberDown": "2m"},
			tags:         []string{"zookeeper"},
		},
		{
			name: "for durations, thresholds and two matchers",
			override: `{ _config+:: {
				zookeeperExporterSelector: 'job="zookeeper",cluster="eu-1"',
				forDuration+: { quorumLost: '1m', memberDown: '10m' },
				followerLagThreshold: 5000,
				highLatencyThresholdSeconds: 0.25,
				leaderElectionsWindow: '1h',
				dashboardTags: ['zookeeper', 'kafka'],
			} }`,
			selector:     `job="zookeeper",cluster="eu-1"`,
			runbooks:     defaultRunbooks,
			forDurations: map[string]string{"ZooKeeperQuorumLost": "1m", "ZooKeeperMemberDown": "10m", "ZooKeeperQuorumAtRisk": "2m"},
			exprHas: map[string]string{
				"ZooKeeperFollowerLagging": ") > 5000",
				"ZooKeeperHighLatency":     ") > 0.25",
				"ZooKeeperLeaderElections": "[1h]",
			},
			summaryHas: map[string]string{"ZooKeeperLeaderElections": "times in 1 hour"},
			tags:       []string{"zookeeper", "kafka"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := renderMixin(t, tc.override)
			text := files["deploy/prometheus/zookeeper_alerts.yml"]
			rules := parseRules(t, text)
			if len(rules) < 15 {
				t.Fatalf("%d alerts", len(rules))
			}
			t.Logf("rendered with %s:", tc.override)
			for _, r := range rules {
				if bad := unselected(r.Expr, tc.selector); len(bad) > 0 {
					t.Errorf("%s: selectors without %s: %v", r.Alert, tc.selector, bad)
				}
				if strings.Contains(r.Expr, `job=~".*zookeeper.*"`) {
					t.Errorf("%s: the default selector is left in %q", r.Alert, r.Expr)
				}
				if want := tc.runbooks + strings.ToLower(r.Alert); r.Annotations["runbook_url"] != want {
					t.Errorf("%s: runbook_url %q, want %q", r.Alert, r.Annotations["runbook_url"], want)
				}
				if want, ok := tc.forDurations[r.Alert]; ok && r.For != want {
					t.Errorf("%s: for %q, want %q", r.Alert, r.For, want)
				}
				if want, ok := tc.exprHas[r.Alert]; ok && !strings.Contains(r.Expr, want) {
					t.Errorf("%s: %q lacks %q", r.Alert, r.Expr, want)
				}
				if want, ok := tc.summaryHas[r.Alert]; ok && !strings.Contains(r.Annotations["summary"], want) {
					t.Errorf("%s: summary %q lacks %q", r.Alert, r.Annotations["summary"], want)
				}
				if tc.exprHas[r.Alert] != "" || r.Alert == "ZooKeeperQuorumLost" || r.Alert == "ZooKeeperExporterAbsent" {
					t.Logf("  %s (for %s): %s", r.Alert, r.For, strings.Join(strings.Fields(r.Expr), " "))
				}
			}
			for _, name := range []string{"zookeeper-ensemble.json", "zookeeper-member.json"} {
				var d struct{ Tags []string }
				if err := json.Unmarshal([]byte(files["dashboards/"+name]), &d); err != nil || !reflect.DeepEqual(d.Tags, tc.tags) {
					t.Errorf("%s: tags %v (%v), want %v", name, d.Tags, err, tc.tags)
				}
			}

			dir := t.TempDir()
			rulesPath := filepath.Join(dir, "zookeeper_alerts.yml")
			if err := os.WriteFile(rulesPath, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(promtool, "check", "rules", rulesPath).CombinedOutput(); err != nil {
				t.Errorf("promtool check rules: %v\n%s", err, out)
			}
			if tc.job == "" {
				return // other for: durations and thresholds: the shipped rule tests' timings do not hold
			}
			// The shipped rule tests, on series of the other job and with
			// the other runbook URLs, pass as they do with the defaults;
			// on the original series (job="zookeeper") they fail, so the
			// selector does pick what the alerts see.
			retarget := strings.NewReplacer(`job="zookeeper"`, `job="`+tc.job+`"`, "job: zookeeper", "job: "+tc.job,
				"(job zookeeper)", "(job "+tc.job+")", defaultRunbooks, tc.runbooks)
			for _, run := range []struct {
				name, tests string
				pass        bool
			}{
				{"series of " + tc.job, retarget.Replace(string(shippedTests)), true},
				{`series of job="zookeeper"`, strings.ReplaceAll(string(shippedTests), defaultRunbooks, tc.runbooks), false},
			} {
				testsPath := filepath.Join(dir, "zookeeper_alerts_test.yml")
				if err := os.WriteFile(testsPath, []byte(run.tests), 0o644); err != nil {
					t.Fatal(err)
				}
				out, err := exec.Command(promtool, "test", "rules", testsPath).CombinedOutput()
				if (err == nil) != run.pass {
					t.Errorf("promtool test rules on %s: %v (want it to pass: %v)\n%.3000s", run.name, err, run.pass, out)
				}
			}
		})
	}
}

// lookTool finds a program the checks need; make test installs them
// (scripts/deps.sh), and there (ZK_REQUIRED=1) or in CI a missing one
// fails instead of skipping.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" || os.Getenv("ZK_REQUIRED") == "1" {
			t.Fatalf("%s is required here: %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
	return path
}
