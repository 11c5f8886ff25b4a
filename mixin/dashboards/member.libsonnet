// One member (variables ensemble and server).
local p = import 'lib.libsonnet';

local sel = 'ensemble="$ensemble",server="$server"';
local stateExpr = p.stateExpr(sel);

function(config) p.dashboard(
  config,
  'zookeeper-member',
  'ZooKeeper member',
  'One ZooKeeper server: latency, requests, connections, data, file descriptors, fsync (zookeeper_exporter).',
  [
    p.datasourceVariable,
    p.queryVariable('ensemble', 'Ensemble', 'label_values(zookeeper_ensemble_members, ensemble)'),
    p.queryVariable('server', 'Member', 'label_values(zookeeper_up{ensemble="$ensemble"}, server)'),
  ],
  'Ensemble overview',
  [
  p.stat(1, 'State', '', [4, 6, 0, 0], [
      [stateExpr, '{{server}}'],
    ], valueMappings=p.stateMappings, colorMode='background'),
  p.stat(2, 'Up', '', [4, 3, 6, 0], [
      ['max(zookeeper_up{ensemble="$ensemble",server="$server"})', 'up'],
    ], steps=[['red', null], ['green', 1]], valueMappings=[['1', 'up', 'green'], ['0', 'DOWN', 'red']], colorMode='background'),
  p.stat(3, 'Serving', '', [4, 3, 9, 0], [
      ['max(zookeeper_serving{ensemble="$ensemble",server="$server"})', 'serving'],
    ], steps=[['red', null], ['green', 1]], valueMappings=[['1', 'serving', 'green'], ['0', 'NOT SERVING', 'red']], colorMode='background'),
  p.stat(4, 'Uptime', '', [4, 4, 12, 0], [
      ['max(zookeeper_uptime_seconds{ensemble="$ensemble",server="$server"})', 'uptime'],
    ], unit='s'),
  p.stat(5, 'Version', '', [4, 4, 16, 0], [
      ['max by (version) (zookeeper_server_info{ensemble="$ensemble",server="$server"})', '{{version}}'],
    ], textMode='name'),
  p.stat(6, 'Safe to stop', '', [4, 4, 20, 0], [
      ['max(zookeeper_ensemble_member_safe_to_stop{ensemble="$ensemble",server="$server"})', 'safe'],
    ], steps=[['red', null], ['green', 1]], valueMappings=[['1', 'yes', 'green'], ['0', 'NO', 'red']], colorMode='background'),
  p.timeseries(7, 'Request latency (since start)', 'ZooKeeper\'s lifetime latency figures (since start or the last srst).', [8, 12, 0, 4], [
      ['max(zookeeper_latency_min_seconds{ensemble="$ensemble",server="$server"})', 'min'],
      ['max(zookeeper_latency_avg_seconds{ensemble="$ensemble",server="$server"})', 'avg'],
      ['max(zookeeper_latency_max_seconds{ensemble="$ensemble",server="$server"})', 'max'],
    ], 's'),
  p.timeseries(8, 'Read and update latency, p99 (3.6+)', '', [8, 12, 12, 4], [
      ['max(zookeeper_readlatency_seconds{ensemble="$ensemble",server="$server",quantile="0.99"})', 'read p99'],
      ['max(zookeeper_updatelatency_seconds{ensemble="$ensemble",server="$server",quantile="0.99"})', 'update p99'],
    ], 's'),
  p.timeseries(9, 'Requests', '', [8, 8, 0, 12], [
      ['sum(rate(zookeeper_readlatency_seconds_count{ensemble="$ensemble",server="$server"}[$__rate_interval]))', 'reads'],
      ['sum(rate(zookeeper_updatelatency_seconds_count{ensemble="$ensemble",server="$server"}[$__rate_interval]))', 'updates'],
    ], 'reqps'),
  p.timeseries(10, 'Outstanding requests', '', [8, 8, 8, 12], [
      ['max(zookeeper_outstanding_requests{ensemble="$ensemble",server="$server"})', 'outstanding'],
    ], 'short'),
  p.timeseries(11, 'Packets', '', [8, 8, 16, 12], [
      ['sum(rate(zookeeper_packets_received_total{ensemble="$ensemble",server="$server"}[$__rate_interval]))', 'received'],
      ['sum(rate(zookeeper_packets_sent_total{ensemble="$ensemble",server="$server"}[$__rate_interval]))', 'sent'],
    ], 'pps'),
  p.timeseries(12, 'Connections', '', [8, 8, 0, 20], [
      ['max(zookeeper_alive_connections{ensemble="$ensemble",server="$server"})', 'connections'],
    ], 'short'),
  p.timeseries(13, 'Znodes, watches, ephemerals', '', [8, 8, 8, 20], [
      ['max(zookeeper_znodes{ensemble="$ensemble",server="$server"})', 'znodes'],
      ['max(zookeeper_watches{ensemble="$ensemble",server="$server"})', 'watches'],
      ['max(zookeeper_ephemerals{ensemble="$ensemble",server="$server"})', 'ephemerals'],
    ], 'short'),
  p.timeseries(14, 'Data size', '', [8, 8, 16, 20], [
      ['max(zookeeper_approximate_data_size_bytes{ensemble="$ensemble",server="$server"})', 'data'],
    ], 'bytes'),
  p.timeseries(15, 'File descriptors', '', [8, 8, 0, 28], [
      ['max(zookeeper_open_file_descriptors{ensemble="$ensemble",server="$server"})', 'open'],
      ['max(zookeeper_max_file_descriptors{ensemble="$ensemble",server="$server"})', 'limit'],
    ], 'short'),
  p.timeseries(16, 'fsync time', 'Transaction log fsync time: the first suspect of slow writes and lost followers.', [8, 8, 8, 28], [
      ['sum(rate(zookeeper_fsynctime_seconds_sum{ensemble="$ensemble",server="$server"}[$__rate_interval])) / sum(rate(zookeeper_fsynctime_seconds_count{ensemble="$ensemble",server="$server"}[$__rate_interval]))', 'mean'],
      ['max(zookeeper_fsynctime_seconds_max{ensemble="$ensemble",server="$server"})', 'max since start'],
    ], 's'),
  p.timeseries(17, 'Zxid lag behind the leader', '', [8, 8, 16, 28], [
      ['max(zookeeper_zxid_lag{ensemble="$ensemble",server="$server"})', 'lag'],
    ], 'short'),
  ],
)
