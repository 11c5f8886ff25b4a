// zookeeper_exporter's monitoring mixin (the kube-prometheus convention):
// prometheusAlerts, prometheusRules, grafanaDashboards and the _config they
// are built from. make mixin renders it into the files the project ships
// (deploy/prometheus/zookeeper_alerts.yml, the PrometheusRule, the chart's
// copies, dashboards/*.json).
(import 'config.libsonnet') +
(import 'alerts.libsonnet') +
(import 'dashboards/dashboards.libsonnet') +
{
  // No recording rules: the exporter derives the ensemble's answers
  // (quorum, failure tolerance, safe to stop) from one snapshot itself,
  // where PromQL over separately scraped members could not. The field is
  // there, empty, for the tools that read all three.
  prometheusRules+:: { groups+: [] },
}
