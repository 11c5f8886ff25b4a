package check

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

var showManifest = flag.Bool("show", false, "print what the chart renders (helm template) for each values file")

const (
	chartDir      = "../../helm/zookeeper-exporter"
	allValuesFile = chartDir + "/ci/all-values.yaml"
	releaseName   = "zk"
	namespace     = "kafka"
)

// object is one rendered document, decoded strictly into its Go type.
type object struct {
	source, kind, name string
	obj                any
}

// lintChart runs Helm's linter (strict: warnings fail too) with vals.
func lintChart(t *testing.T, vals map[string]any) []support.Message {
	t.Helper()
	l := action.NewLint()
	l.Strict = true
	l.Namespace = namespace
	res := l.Run([]string{chartDir}, vals)
	var bad []support.Message
	for _, m := range res.Messages {
		if m.Severity >= support.WarningSev {
			bad = append(bad, m)
		}
	}
	for _, err := range res.Errors {
		if len(bad) == 0 {
			bad = append(bad, support.Message{Severity: support.ErrorSev, Err: err})
		}
	}
	return bad
}

// renderChart is "helm template zk deploy/helm/zookeeper-exporter -n kafka
// -f values": the manifest as Helm's client-only install renders it.
// lintAndDecode lints the chart with vals (what names the lint in a
// failure), renders it (printed with -show) and decodes every object.
func lintAndDecode(t *testing.T, vals map[string]any, what string) []object {
	t.Helper()
	if bad := lintChart(t, vals); len(bad) > 0 {
		t.Errorf("%s: %v", what, bad)
	}
	manifest, err := renderChart(vals)
	if err != nil {
		t.Fatal(err)
	}
	if *showManifest {
		os.Stdout.WriteString(manifest + "\n")
	}
	return decodeManifest(t, manifest)
}

func renderChart(vals map[string]any) (string, error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return "", err
	}
	install := action.NewInstall(&action.Configuration{})
	install.DryRun = true
	install.ClientOnly = true
	install.Replace = true
	install.ReleaseName = releaseName
	install.Namespace = namespace
	install.KubeVersion = &chartutil.KubeVersion{Version: "v1.30.0", Major: "1", Minor: "30"}
	rel, err := install.Run(ch, vals)
	if err != nil {
		return "", err
	}
	return rel.Manifest, nil
}

// decodeManifest splits a rendered manifest and decodes each document
// strictly, failing on an unknown kind or field.
func decodeManifest(t *testing.T, manifest string) []object {
	t.Helper()
	var objs []object
	for _, doc := range strings.Split(manifest, "\n---\n") {
		source := ""
		if first, _, ok := strings.Cut(strings.TrimPrefix(doc, "---\n"), "\n"); ok && strings.HasPrefix(first, "# Source: ") {
			source = strings.TrimPrefix(first, "# Source: ")
		}
		var meta struct {
			Kind     string
			Metadata struct{ Name string }
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("%s: %v", source, err)
		}
		if meta.Kind == "" {
			continue // a template that rendered nothing
		}
		obj := decoderFor(meta.Kind)
		if obj == nil {
			t.Errorf("%s: no Go type for kind %q", source, meta.Kind)
			continue
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Errorf("%s (%s): %v", source, meta.Kind, err)
			continue
		}
		check(t, source, obj)
		objs = append(objs, object{source, meta.Kind, meta.Metadata.Name, obj})
	}
	return objs
}

// inventory lists the objects as "Kind/name", sorted.
func inventory(objs []object) []string {
	var names []string
	for _, o := range objs {
		names = append(names, o.kind+"/"+o.name)
	}
	sort.Strings(names)
	return names
}

func readValues(t *testing.T, path string) map[string]any {
	t.Helper()
	vals, err := chartutil.ReadValuesFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return vals.AsMap()
}

// exporterConfig is the --config.file the chart's ConfigMap carries.
func exporterConfig(t *testing.T, objs []object) string {
	t.Helper()
	for _, o := range objs {
		if cm, ok := o.obj.(*corev1.ConfigMap); ok && cm.Data["config.yml"] != "" {
			return cm.Data["config.yml"]
		}
	}
	t.Fatal("no ConfigMap with config.yml")
	return ""
}

func deployment(t *testing.T, objs []object) *appsv1.Deployment {
	t.Helper()
	for _, o := range objs {
		if d, ok := o.obj.(*appsv1.Deployment); ok {
			return d
		}
	}
	t.Fatal("no Deployment")
	return nil
}

// TestChartDefaults: "helm install" with no values is a Deployment, its
// Service, ServiceAccount and ConfigMap, watching zookeeper:2181 as the
// ensemble "default", as the binary does localhost:2181 without flags.
func TestChartDefaults(t *testing.T) {
	objs := lintAndDecode(t, nil, "helm lint --strict")
	want := []string{
		"ConfigMap/zk-zookeeper-exporter",
		"Deployment/zk-zookeeper-exporter",
		"Service/zk-zookeeper-exporter",
		"ServiceAccount/zk-zookeeper-exporter",
	}
	if got := inventory(objs); !reflect.DeepEqual(got, want) {
		t.Errorf("objects:\n got %v\nwant %v", got, want)
	}
	var cfg struct {
		Ensembles []map[string]any
	}
	if err := yaml.UnmarshalStrict([]byte(exporterConfig(t, objs)), &cfg); err != nil {
		t.Fatal(err)
	}
	wantCfg := []map[string]any{{"name": "default", "servers": []any{"zookeeper:2181"}}}
	if !reflect.DeepEqual(cfg.Ensembles, wantCfg) {
		t.Errorf("config.yml ensembles %v, want %v", cfg.Ensembles, wantCfg)
	}
	c := deployment(t, objs).Spec.Template.Spec.Containers[0]
	if c.Image != "zookeeper_exporter:0.1.0" || c.LivenessProbe.HTTPGet.Scheme != "" {
		t.Errorf("image %q, liveness scheme %q", c.Image, c.LivenessProbe.HTTPGet.Scheme)
	}
	// One vantage for every replica (the host name would be the pod's).
	if !slices.Contains(c.Args, "--exporter.vantage=zk-zookeeper-exporter") {
		t.Errorf("args %q: want the release's full name as the vantage", c.Args)
	}
	configCheck(t, exporterConfig(t, objs))
}

// TestChartAllValues renders ci/all-values.yaml, which sets every option.
func TestChartAllValues(t *testing.T) {
	vals := readValues(t, allValuesFile)
	objs := lintAndDecode(t, vals, "helm lint --strict -f "+allValuesFile)
	want := []string{
		"ConfigMap/zk-zkx",
		"ConfigMap/zk-zkx-zookeeper-ensemble",
		"ConfigMap/zk-zkx-zookeeper-member",
		"Deployment/zk-zkx",
		"Probe/zk-zkx-kafka-prod",
		"Probe/zk-zkx-solr-secure",
		"PrometheusRule/zk-zkx",
		"Secret/zk-zkx-web-config",
		"Service/zk-zkx",
		"ServiceAccount/zk-exporter",
		"ServiceMonitor/zk-zkx",
	}
	got := inventory(objs)
	t.Logf("rendered with every option: %s", strings.Join(got, " "))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("objects:\n got %v\nwant %v", got, want)
	}
	for _, o := range objs {
		switch v := o.obj.(type) {
		case *appsv1.Deployment:
			spec := v.Spec.Template.Spec
			c := spec.Containers[0]
			if c.LivenessProbe.HTTPGet.Scheme != corev1.URISchemeHTTPS || c.ReadinessProbe.HTTPGet.Scheme != corev1.URISchemeHTTPS {
				t.Errorf("the exporter serves HTTPS, the probes ask %q/%q", c.LivenessProbe.HTTPGet.Scheme, c.ReadinessProbe.HTTPGet.Scheme)
			}
			if len(c.LivenessProbe.HTTPGet.HTTPHeaders) != 1 || c.LivenessProbe.PeriodSeconds != 20 {
				t.Errorf("liveness probe values not carried: %+v", c.LivenessProbe)
			}
			args := strings.Join(c.Args, " ")
			for _, a := range []string{"--web.config.file=/etc/zookeeper_exporter/web/web-config.yml", "--log.level=debug", "--log.format=json", "--zookeeper.max-concurrency=64", "--web.enable-lifecycle", "--exporter.vantage=eu-west-1"} {
				if !strings.Contains(args, a) {
					t.Errorf("args %q lack %s", args, a)
				}
			}
			mounts := map[string]string{}
			for _, m := range c.VolumeMounts {
				mounts[m.MountPath] = m.Name
			}
			for _, p := range []string{"/etc/zookeeper_exporter/config", "/etc/zookeeper_exporter/web", "/etc/zookeeper_exporter/web-tls", "/etc/zookeeper_exporter/tls/zk-client-tls", "/etc/zookeeper_exporter/tls/zk-solr-ca",
				"/etc/zookeeper_exporter/secrets/zk-exporter-digest"} {
				if mounts[p] == "" {
					t.Errorf("nothing mounted at %s (%v)", p, mounts)
				}
			}
			if len(spec.Volumes) != 6 || *v.Spec.Replicas != 2 || spec.ServiceAccountName != "zk-exporter" || spec.PriorityClassName != "monitoring" ||
				len(spec.Tolerations) != 1 || spec.Affinity == nil || spec.NodeSelector["kubernetes.io/os"] != "linux" || len(spec.ImagePullSecrets) != 1 {
				t.Errorf("pod spec does not carry the values: %+v", spec)
			}
			if c.Image != "registry.example.com/zookeeper_exporter:0.1.0" || c.ImagePullPolicy != corev1.PullAlways {
				t.Errorf("image %q %q", c.Image, c.ImagePullPolicy)
			}
		case *corev1.Secret:
			var web map[string]any
			if err := yaml.UnmarshalStrict(v.Data["web-config.yml"], &web); err != nil || web["basic_auth_users"] == nil || web["tls_server_config"] == nil {
				t.Errorf("web-config.yml: %v %v", web, err)
			}
		case *monitoringv1.ServiceMonitor:
			ep := v.Spec.Endpoints[0]
			if v.Namespace != "monitoring" || v.Spec.NamespaceSelector.MatchNames[0] != namespace || ep.Scheme != "https" || ep.TLSConfig == nil ||
				ep.BasicAuth == nil || len(ep.RelabelConfigs) != 1 || len(ep.MetricRelabelConfigs) != 1 || v.Labels["release"] != "kube-prometheus-stack" {
				t.Errorf("ServiceMonitor does not carry the values: %+v", v)
			}
		case *monitoringv1.Probe:
			s := v.Spec
			if s.JobName != "zk-probe" || s.ProberSpec.URL != "zk-zkx.kafka.svc:9141" || s.ProberSpec.Scheme != "https" || s.TLSConfig == nil ||
				len(s.Targets.StaticConfig.Targets) != 1 || string(s.Interval) != "1m" {
				t.Errorf("Probe %s: %+v", v.Name, s)
			}
		case *monitoringv1.PrometheusRule:
			n := 0
			for _, g := range v.Spec.Groups {
				for _, r := range g.Rules {
					n++
					if bad := unselected(r.Expr.String(), `job=~"zk-zkx|zk-probe"`); len(bad) > 0 {
						t.Errorf("%s: selectors without the values' selector: %v", r.Alert, bad)
					}
				}
			}
			if n < 15 {
				t.Errorf("PrometheusRule: %d rules", n)
			}
		case *corev1.ConfigMap:
			if file, ok := strings.CutPrefix(v.Name, "zk-zkx-"); ok {
				shipped, err := os.ReadFile(filepath.Join(root, "dashboards", file+".json"))
				if err != nil {
					t.Fatal(err)
				}
				if v.Labels["grafana_dashboard"] != "1" || v.Namespace != "grafana" || v.Annotations["grafana_folder"] != "ZooKeeper" ||
					strings.TrimSpace(v.Data[file+".json"]) != strings.TrimSpace(string(shipped)) {
					t.Errorf("dashboard ConfigMap %s: labels %v, or not the shipped dashboard", v.Name, v.Labels)
				}
			}
		}
	}
	// The exporter itself accepts the configuration, with real PEM files
	// where the Secrets would be mounted.
	dir := t.TempDir()
	writeTestPKI(t, filepath.Join(dir, "zk-client-tls"), "ca.crt", "tls.crt", "tls.key")
	writeTestPKI(t, filepath.Join(dir, "zk-solr-ca"), "ca.pem", "", "")
	cfg := exporterConfig(t, objs)
	for _, want := range []string{"discover: true", "discover_max_members: 50", "admin_port: 8080", `admin_scheme: "https"`, `timeout: "3s"`,
		`ca_file: "/etc/zookeeper_exporter/tls/zk-solr-ca/ca.pem"`, `server_name: "zookeeper.kafka.svc"`,
		"client_probe: true", `client_probe_znode: "/kafka/brokers"`, `client_probe_interval: "30s"`, `canary_znode: "/zookeeper-exporter-canary"`,
		`digest_credentials_file: "/etc/zookeeper_exporter/secrets/zk-exporter-digest/digest"`, `vantage: "eu-west-1a"`,
		`include: ["fsynctime",".*_latency"]`, `exclude: ["local_.*"]`, "enabled: false"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config.yml lacks %s:\n%s", want, cfg)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "secrets", "zk-exporter-digest"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets", "zk-exporter-digest", "digest"), []byte("exporter:secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg = strings.ReplaceAll(cfg, "/etc/zookeeper_exporter/secrets/", dir+"/secrets/")
	configCheck(t, strings.ReplaceAll(cfg, "/etc/zookeeper_exporter/tls/", dir+"/"))
}

// TestChartSchemaRejects: a misspelt or misplaced key, or a wrong type,
// fails helm template (and lint) naming it, instead of being ignored.
func TestChartSchemaRejects(t *testing.T) {
	for _, tc := range []struct {
		name, values, want string
	}{
		{"misspelt top-level key", "replicas: 2\n", "replicas"},
		{"misspelt nested key", "serviceMonitor:\n  enabeld: true\n", "enabeld"},
		{"misspelt ensemble key", "config:\n  ensembles:\n    - name: a\n      server: [\"zk:2181\"]\n", "server"},
		{"snake_case key of the exporter's YAML", "config:\n  ensembles:\n    - name: a\n      servers: [\"zk:2181\"]\n      admin_port: 8080\n", "admin_port"},
		{"misspelt TLS key", "config:\n  ensembles:\n    - name: a\n      servers: [\"zk:2181\"]\n      tls: {secretname: x}\n", "secretname"},
		{"wrong type", "replicaCount: two\n", "replicaCount"},
		{"no ensemble", "config:\n  ensembles: []\n", "ensembles"},
		{"bad duration", "serviceMonitor:\n  interval: 30 seconds\n", "interval"},
		{"misspelt client probe key", "config:\n  ensembles:\n    - name: a\n      servers: [\"zk:2181\"]\n      clientprobe: true\n", "clientprobe"},
		{"digest credentials without a Secret", "config:\n  ensembles:\n    - name: a\n      servers: [\"zk:2181\"]\n      digestCredentials: {key: x}\n", "secretName"},
		{"misspelt passthrough key", "config:\n  ensembles:\n    - name: a\n      servers: [\"zk:2181\"]\n      passthrough: {includes: [x]}\n", "includes"},
		{"misspelt web config key", "webConfig:\n  config:\n    tls_config: {}\n", "tls_config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "values.yaml")
			if err := os.WriteFile(path, []byte(tc.values), 0o644); err != nil {
				t.Fatal(err)
			}
			vals := readValues(t, path)
			_, err := renderChart(vals)
			if err == nil || !strings.Contains(err.Error(), "schema") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("helm template: %v, want a schema error naming %q", err, tc.want)
			}
			if bad := lintChart(t, vals); len(bad) == 0 {
				t.Errorf("helm lint accepts %q", tc.values)
			}
		})
	}
}

// configCheck runs the exporter's own --config.check on a configuration.
func configCheck(t *testing.T, config string) {
	t.Helper()
	bin := exporterBinary(t)
	path := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "--config.file="+path, "--config.check").CombinedOutput(); err != nil {
		t.Errorf("zookeeper_exporter --config.check: %v\n%s\n%s", err, out, config)
	}
}

var builtExporter string

// exporterBinary builds the exporter (the main module, next door) once.
func exporterBinary(t *testing.T) string {
	t.Helper()
	if builtExporter != "" {
		return builtExporter
	}
	dir, err := os.MkdirTemp("", "zkexporter-check-")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "zookeeper_exporter")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build the exporter: %v\n%s", err, out)
	}
	builtExporter = bin
	return bin
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if builtExporter != "" {
		os.RemoveAll(filepath.Dir(builtExporter))
	}
	os.Exit(code)
}

// writeTestPKI writes a self-signed CA (as caFile) and, if certFile is
// set, a client certificate and key it signed, into dir.
func writeTestPKI(t *testing.T, dir, caFile, certFile, keyFile string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	files := map[string][]byte{caFile: certPEM}
	if certFile != "" {
		// The CA's own pair serves as the client's: --config.check loads
		// the pair, it does not verify the chain.
		files[certFile], files[keyFile] = certPEM, keyPEM
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestChartRuleSelector: the PrometheusRule selects the jobs the release
// scrapes unless told otherwise, in every series selector of every alert,
// and promtool accepts the result.
func TestChartRuleSelector(t *testing.T) {
	promtool := lookTool(t, "promtool")
	for _, tc := range []struct {
		name, values, want string
	}{
		{"ServiceMonitor: the Service's name", "serviceMonitor: {enabled: true}\nprometheusRule: {enabled: true}\n", `job=~"zk-zookeeper-exporter"`},
		{"Probes: their job, quoted as a regular expression", "probe: {enabled: true, jobName: zk.probe}\nprometheusRule: {enabled: true}\n", `job=~"zk\\.probe"`},
		{"both", "serviceMonitor: {enabled: true}\nprobe: {enabled: true}\nprometheusRule: {enabled: true}\n", `job=~"zk-zookeeper-exporter|zookeeper-probe"`},
		{"neither: the mixin's default", "prometheusRule: {enabled: true}\n", `job=~".*zookeeper.*"`},
		{"given", "serviceMonitor: {enabled: true}\nprometheusRule: {enabled: true, selector: 'job=\"zookeeper\",cluster=\"eu-1\"'}\n", `job="zookeeper",cluster="eu-1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "values.yaml")
			if err := os.WriteFile(path, []byte(tc.values), 0o644); err != nil {
				t.Fatal(err)
			}
			vals := readValues(t, path)
			manifest, err := renderChart(vals)
			if err != nil {
				t.Fatal(err)
			}
			var rule *monitoringv1.PrometheusRule
			for _, o := range decodeManifest(t, manifest) {
				if r, ok := o.obj.(*monitoringv1.PrometheusRule); ok {
					rule = r
				}
			}
			if rule == nil {
				t.Fatal("no PrometheusRule")
			}
			n := 0
			for _, g := range rule.Spec.Groups {
				for _, r := range g.Rules {
					n++
					if bad := unselected(r.Expr.String(), tc.want); len(bad) > 0 {
						t.Errorf("%s: selectors without %s: %v", r.Alert, tc.want, bad)
					}
				}
			}
			if n < 15 {
				t.Errorf("%d alerts", n)
			}
			groups, err := yaml.Marshal(map[string]any{"groups": rule.Spec.Groups})
			if err != nil {
				t.Fatal(err)
			}
			rules := filepath.Join(t.TempDir(), "rules.yml")
			if err := os.WriteFile(rules, groups, 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(promtool, "check", "rules", rules).CombinedOutput(); err != nil {
				t.Errorf("promtool check rules: %v\n%s", err, out)
			}
		})
	}
}
