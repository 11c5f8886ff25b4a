{
  grafanaDashboards+:: {
    'zookeeper-ensemble.json': (import 'ensemble.libsonnet')($._config),
    'zookeeper-member.json': (import 'member.libsonnet')($._config),
  },
}
