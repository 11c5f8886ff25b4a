// Package check decodes every manifest in deploy/kubernetes, and every
// object the Helm chart in deploy/helm renders, strictly into the
// Kubernetes and prometheus-operator Go types: an unknown or misspelt
// field, or a wrong type, fails the test. It also renders the monitoring
// mixin (mixin/) and keeps the files generated from it in step.
package check

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

func decoderFor(kind string) any {
	switch kind {
	case "Deployment":
		return &appsv1.Deployment{}
	case "Service":
		return &corev1.Service{}
	case "ConfigMap":
		return &corev1.ConfigMap{}
	case "Secret":
		return &corev1.Secret{}
	case "ServiceAccount":
		return &corev1.ServiceAccount{}
	case "ServiceMonitor":
		return &monitoringv1.ServiceMonitor{}
	case "PodMonitor":
		return &monitoringv1.PodMonitor{}
	case "Probe":
		return &monitoringv1.Probe{}
	case "PrometheusRule":
		return &monitoringv1.PrometheusRule{}
	}
	return nil
}

func TestManifestsDecodeStrictly(t *testing.T) {
	files, _ := filepath.Glob("../*.yaml")
	if len(files) < 6 {
		t.Fatalf("only %d manifests", len(files))
	}
	kinds := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range strings.Split(string(data), "\n---\n") {
			var meta struct{ Kind, APIVersion string }
			if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
				t.Fatalf("%s doc %d: %v", f, i, err)
			}
			obj := decoderFor(meta.Kind)
			if obj == nil {
				t.Errorf("%s doc %d: no Go type for kind %q", f, i, meta.Kind)
				continue
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Errorf("%s doc %d (%s): %v", f, i, meta.Kind, err)
			}
			kinds[meta.Kind] = true
			check(t, f, obj)
		}
	}
	for _, k := range []string{"Deployment", "Service", "ConfigMap", "ServiceMonitor", "Probe", "PrometheusRule"} {
		if !kinds[k] {
			t.Errorf("no %s manifest", k)
		}
	}
}

// check holds what a decode cannot: the pieces that must fit together.
func check(t *testing.T, file string, obj any) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		c := o.Spec.Template.Spec.Containers[0]
		sc := c.SecurityContext
		if o.Spec.Template.Spec.SecurityContext.RunAsNonRoot == nil || !*o.Spec.Template.Spec.SecurityContext.RunAsNonRoot ||
			sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: the container must run as non-root, read-only, without privilege escalation", file)
		}
		if c.Ports[0].ContainerPort != 9141 || c.LivenessProbe.HTTPGet.Path != "/-/healthy" || c.ReadinessProbe.HTTPGet.Path != "/-/ready" {
			t.Errorf("%s: port or probes wrong", file)
		}
	case *monitoringv1.PrometheusRule:
		if len(o.Spec.Groups) < 3 {
			t.Errorf("%s: %d rule groups", file, len(o.Spec.Groups))
		}
	case *monitoringv1.Probe:
		if o.Spec.ProberSpec.Path != "/probe" {
			t.Errorf("%s: prober path %q", file, o.Spec.ProberSpec.Path)
		}
	}
}
