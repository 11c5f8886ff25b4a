// What a user changes without forking the mixin: override any field with
//   (import 'zookeeper-exporter-mixin/mixin.libsonnet') + { _config+:: { ... } }
{
  _config+:: {
    // Label matchers, PromQL syntax without braces, that pick the series of
    // the exporter's scrape jobs. Every alert puts them in every selector,
    // so another job's metrics of the same name never raise an alert. The
    // default matches the job names of deploy/prometheus/prometheus.yml
    // (zookeeper, zookeeper-probe, zookeeper-shard-N) and of the Helm
    // chart's ServiceMonitor (the Service's name, <release>-zookeeper-exporter).
    zookeeperExporterSelector: 'job=~".*zookeeper.*"',

    // How long a condition must hold before an alert fires, by alert. The
    // reasons for each are in docs/runbooks.md.
    forDuration: {
      quorumLost: '30s',
      quorumAtRisk: '2m',
      noLeader: '1m',
      multipleLeaders: '1m',
      membershipMismatch: '5m',
      viewIncomplete: '15m',
      memberDown: '2m',
      memberNotServing: '2m',
      followerLagging: '5m',
      outstandingRequests: '5m',
      highLatency: '10m',
      fileDescriptorsNearLimit: '5m',
      fourLetterWordsDisabled: '1h',
      clientsCannotConnect: '2m',
      writesStalled: '2m',
      partitioned: '1m',
      exporterDown: '2m',
      exporterAbsent: '5m',
    },

    // Thresholds of the alerts that compare against a number.
    leaderElectionsWindow: '15m',  // ZooKeeperLeaderElections counts epoch changes over this window
    leaderElectionsThreshold: 2,  // more than this many elections in the window
    followerLagThreshold: 1000,  // transactions behind the leader
    outstandingRequestsThreshold: 10,
    highLatencyThresholdSeconds: 0.1,  // mean request latency
    fileDescriptorsRatioThreshold: 0.85,  // open / max file descriptors

    // %s is the alert's name in lower case (the runbook's section anchor).
    runbookURLPattern: 'https://github.com/zookeeper-exporter/zookeeper_exporter/blob/main/docs/runbooks.md#%s',

    // Dashboards. Their queries pick series by the ensemble and server
    // variables alone (an ensemble label names one ensemble whatever job
    // scraped it), so they take no selector.
    dashboardTags: ['zookeeper'],
    dashboardRefresh: '30s',
    dashboardTimezone: 'browser',
  },
}
