// The overview of one ensemble (variable ensemble).
local p = import 'lib.libsonnet';

local sel = 'ensemble="$ensemble"';
local stateExpr = p.stateExpr(sel);

function(config) p.dashboard(
  config,
  'zookeeper-ensemble',
  'ZooKeeper ensemble',
  'Quorum, voters, leader and members of one ZooKeeper ensemble (zookeeper_exporter).',
  [
    p.datasourceVariable,
    p.queryVariable('ensemble', 'Ensemble', 'label_values(zookeeper_ensemble_members, ensemble)'),
  ],
  'Member detail',
  [
  p.stat(1, 'Quorum', '1 when a serving leader has a majority of the voters in sync (zookeeper_ensemble_quorum).', [4, 4, 0, 0], [
      ['max(zookeeper_ensemble_quorum{ensemble="$ensemble"})', 'quorum'],
    ], steps=[['red', null], ['green', 1]], valueMappings=[['1', 'QUORUM', 'green'], ['0', 'NO QUORUM', 'red']], colorMode='background'),
  p.stat(2, 'Voters up / quorum size / voters', 'Voters that answer and serve as leader or follower, against the voters needed for quorum.', [4, 6, 4, 0], [
      ['max(zookeeper_ensemble_voters_up{ensemble="$ensemble"})', 'voters up'],
      ['max(zookeeper_ensemble_quorum_size{ensemble="$ensemble"})', 'quorum size'],
      ['max(zookeeper_ensemble_voters{ensemble="$ensemble"})', 'voters'],
    ], colorMode='value', textMode='value_and_name'),
  p.stat(3, 'Failure tolerance', 'How many more voters can fail before quorum is lost; 0: one more loss breaks quorum; negative: no quorum.', [4, 4, 10, 0], [
      ['max(zookeeper_ensemble_failure_tolerance{ensemble="$ensemble"})', 'tolerance'],
    ], steps=[['red', null], ['orange', 0], ['green', 1]], colorMode='background'),
  p.stat(4, 'Leader', 'The member that reports leader.', [4, 4, 14, 0], [
      ['max by (server) (zookeeper_ensemble_leader_info{ensemble="$ensemble"})', '{{server}}'],
    ], textMode='name'),
  p.stat(5, 'Leaders', 'Members reporting leader: 1 healthy, 0 none, more than 1 a split view.', [4, 2, 18, 0], [
      ['max(zookeeper_ensemble_leaders{ensemble="$ensemble"})', 'leaders'],
    ], steps=[['red', null], ['green', 1], ['red', 2]], colorMode='background'),
  p.stat(6, 'Epoch', 'The leader\'s zxid epoch; it rises at every election.', [4, 2, 20, 0], [
      ['max(zookeeper_ensemble_epoch{ensemble="$ensemble"})', 'epoch'],
    ]),
  p.stat(7, 'Membership', '1 when every member that answers conf reports the same server list.', [4, 2, 22, 0], [
      ['min(zookeeper_ensemble_config_consistent{ensemble="$ensemble"})', 'consistent'],
    ], steps=[['red', null], ['green', 1]], valueMappings=[['1', 'agree', 'green'], ['0', 'DIFFER', 'red']], colorMode='background'),
  p.stateTimeline(8, 'Member state', 'Each member\'s state over time (zookeeper_server_state).', [7, 24, 0, 4], [
      [stateExpr, '{{server}}'],
    ], p.stateMappings),
  p.timeseries(9, 'Voters up against quorum size', '', [8, 12, 0, 11], [
      ['max(zookeeper_ensemble_voters_up{ensemble="$ensemble"})', 'voters up'],
      ['max(zookeeper_ensemble_synced_voters{ensemble="$ensemble"})', 'synced voters (leader\'s view)'],
      ['max(zookeeper_ensemble_quorum_size{ensemble="$ensemble"})', 'quorum size'],
    ], 'short'),
  p.timeseries(10, 'Zxid lag behind the leader', 'Transactions a member is behind the leader, within the leader\'s epoch.', [8, 12, 12, 11], [
      ['max by (server) (zookeeper_zxid_lag{ensemble="$ensemble"})', '{{server}}'],
    ], 'short'),
  p.table(11, 'Safe to stop now?', 'Whether stopping the member now still leaves a quorum (zookeeper_ensemble_member_safe_to_stop).', [8, 8, 0, 19], [
      ['max by (server) (zookeeper_ensemble_member_safe_to_stop{ensemble="$ensemble"})', '{{server}}'],
    ], [['red', null], ['green', 1]], [['1', 'yes', 'green'], ['0', 'NO', 'red']], [{"id": "organize", "options": {"excludeByName": {"Time": true}, "renameByName": {"server": "member", "Value": "safe to stop"}}}]),
  p.timeseries(12, 'Outstanding requests', '', [8, 8, 8, 19], [
      ['max by (server) (zookeeper_outstanding_requests{ensemble="$ensemble"})', '{{server}}'],
    ], 'short'),
  p.timeseries(13, 'Member poll time', 'How long each member took to answer the exporter\'s four-letter words.', [8, 8, 16, 19], [
      ['max by (server) (zookeeper_member_poll_duration_seconds{ensemble="$ensemble"})', '{{server}}'],
    ], 's'),
  ],
)
