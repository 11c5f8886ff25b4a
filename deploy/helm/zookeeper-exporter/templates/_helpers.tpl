{{/* The chart's name, and the release's full name (63 characters at most: a DNS label). */}}
{{- define "zookeeper-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "zookeeper-exporter.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "zookeeper-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "zookeeper-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "zookeeper-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "zookeeper-exporter.labels" -}}
helm.sh/chart: {{ include "zookeeper-exporter.chart" . }}
{{ include "zookeeper-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "zookeeper-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "zookeeper-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* "true" when the exporter serves HTTPS (the web configuration has tls_server_config). */}}
{{- define "zookeeper-exporter.webTLS" -}}
{{- if hasKey .Values.webConfig.config "tls_server_config" }}true{{ end }}
{{- end }}

{{/* The scheme Prometheus scrapes with: the value given, else from the web configuration. */}}
{{- define "zookeeper-exporter.scheme" -}}
{{- $scheme := index . 0 }}{{ $root := index . 1 }}
{{- if $scheme }}{{ $scheme }}{{ else if include "zookeeper-exporter.webTLS" $root }}https{{ else }}http{{ end }}
{{- end }}

{{/* Where an ensemble's TLS Secret is mounted. */}}
{{- define "zookeeper-exporter.tlsDir" -}}
/etc/zookeeper_exporter/tls/{{ . }}
{{- end }}

{{/* Where a digest credentials Secret is mounted. */}}
{{- define "zookeeper-exporter.secretDir" -}}
/etc/zookeeper_exporter/secrets/{{ . }}
{{- end }}

{{/* A volume name for a digest credentials Secret. */}}
{{- define "zookeeper-exporter.secretVolume" -}}
zk-secret-{{ sha256sum . | trunc 10 }}
{{- end }}

{{/* A volume name for a TLS Secret: a DNS label whatever the Secret's name. */}}
{{- define "zookeeper-exporter.tlsVolume" -}}
zk-tls-{{ sha256sum . | trunc 10 }}
{{- end }}

{{/* A DNS label from an ensemble's name, for the Probe object's name. */}}
{{- define "zookeeper-exporter.ensembleSlug" -}}
{{- regexReplaceAll "[^a-z0-9-]+" (lower .) "-" | trunc 40 | trimAll "-" }}
{{- end }}

{{/*
The exporter's --config.file, from .Values.config: the chart's camelCase
keys become the exporter's snake_case ones, a TLS Secret becomes the paths
of its mounted files.
*/}}
{{- define "zookeeper-exporter.config" -}}
ensembles:
{{- range .Values.config.ensembles }}
  - name: {{ .name | quote }}
    servers: {{ .servers | toJson }}
    {{- with .timeout }}
    timeout: {{ . | quote }}
    {{- end }}
    {{- if hasKey . "discover" }}
    discover: {{ .discover }}
    {{- end }}
    {{- with .discoverMaxMembers }}
    discover_max_members: {{ . }}
    {{- end }}
    {{- with .adminPort }}
    admin_port: {{ . }}
    {{- end }}
    {{- with .adminScheme }}
    admin_scheme: {{ . | quote }}
    {{- end }}
    {{- if hasKey . "clientProbe" }}
    client_probe: {{ .clientProbe }}
    {{- end }}
    {{- with .clientProbeZnode }}
    client_probe_znode: {{ . | quote }}
    {{- end }}
    {{- with .clientProbeInterval }}
    client_probe_interval: {{ . | quote }}
    {{- end }}
    {{- with .canaryZnode }}
    canary_znode: {{ . | quote }}
    {{- end }}
    {{- with .digestCredentials }}
    digest_credentials_file: {{ printf "%s/%s" (include "zookeeper-exporter.secretDir" .secretName) (.key | default "credentials") | quote }}
    {{- end }}
    {{- with .vantage }}
    vantage: {{ . | quote }}
    {{- end }}
    {{- with .passthrough }}
    passthrough:
      {{- if hasKey . "enabled" }}
      enabled: {{ .enabled }}
      {{- end }}
      {{- with .include }}
      include: {{ . | toJson }}
      {{- end }}
      {{- with .exclude }}
      exclude: {{ . | toJson }}
      {{- end }}
    {{- end }}
    {{- with .tls }}
    tls:
      {{- if .secretName }}
      {{- $dir := include "zookeeper-exporter.tlsDir" .secretName }}
      {{- $ca := ternary .caKey "ca.crt" (hasKey . "caKey") }}
      {{- $cert := ternary .certKey "tls.crt" (hasKey . "certKey") }}
      {{- $key := ternary .keyKey "tls.key" (hasKey . "keyKey") }}
      {{- if $ca }}
      ca_file: {{ printf "%s/%s" $dir $ca | quote }}
      {{- end }}
      {{- if $cert }}
      cert_file: {{ printf "%s/%s" $dir $cert | quote }}
      key_file: {{ printf "%s/%s" $dir $key | quote }}
      {{- end }}
      {{- end }}
      {{- with .serverName }}
      server_name: {{ . | quote }}
      {{- end }}
      insecure_skip_verify: {{ .insecureSkipVerify | default false }}
    {{- end }}
{{- end }}
{{- end }}

{{/*
The label matchers the PrometheusRule puts in every alert's selectors: the
value given; else the jobs this release makes Prometheus scrape (the
ServiceMonitor's job is the Service's name, the Probes' their jobName), so
a release whose name has no "zookeeper" in it still gets alerts that fire;
else the mixin's default. Job names are quoted as regular expressions, and
the backslashes doubled for PromQL's string syntax.
*/}}
{{- define "zookeeper-exporter.ruleSelector" -}}
{{- if .Values.prometheusRule.selector }}
{{- .Values.prometheusRule.selector }}
{{- else }}
{{- $jobs := list }}
{{- if .Values.serviceMonitor.enabled }}
{{- $jobs = append $jobs (include "zookeeper-exporter.fullname" .) }}
{{- end }}
{{- if .Values.probe.enabled }}
{{- $jobs = append $jobs (include "zookeeper-exporter.probeJob" .) }}
{{- end }}
{{- if $jobs }}
{{- $quoted := list }}
{{- range $jobs }}
{{- $quoted = append $quoted (regexQuoteMeta . | replace "\\" "\\\\") }}
{{- end }}
{{- printf "job=~\"%s\"" (join "|" $quoted) }}
{{- end }}
{{- end }}
{{- end }}

{{/* The Probes' job name. */}}
{{- define "zookeeper-exporter.probeJob" -}}
{{- .Values.probe.jobName | default "zookeeper-probe" }}
{{- end }}
