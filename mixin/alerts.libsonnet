// The alert rules. Every rule aggregates by ensemble (and server where the
// fault is one member's), so several exporter replicas scraping one
// ensemble raise one alert, and an ensemble-wide fault raises one alert,
// not one per member. Every series selector carries
// _config.zookeeperExporterSelector. The "for:" durations are explained in
// docs/runbooks.md.
local humanize(d) =
  // '30s' -> '30 seconds', '1h' -> '1 hour'; anything else as written.
  local n = std.substr(d, 0, std.length(d) - 1);
  local unit = { s: 'second', m: 'minute', h: 'hour' }[std.substr(d, std.length(d) - 1, 1)];
  local isNumber = std.length(n) > 0 && std.all([std.member('0123456789', ch) for ch in std.stringChars(n)]);
  if isNumber && std.member('smh', std.substr(d, std.length(d) - 1, 1)) then
    n + ' ' + unit + (if n == '1' then '' else 's')
  else d;

{
  prometheusAlerts+:: {
    local c = $._config { sel: $._config.zookeeperExporterSelector },
    local f = $._config.forDuration,
    local runbook(alert) = c.runbookURLPattern % std.asciiLower(alert),
    local rule(alert, expr, forDuration, severity, summary, description) = {
      alert: alert,
      expr: expr % c,
      [if forDuration != null then 'for']: forDuration,
      labels: { severity: severity },
      annotations: {
        summary: summary,
        description: description,
        runbook_url: runbook(alert),
      },
    },

    groups+: [
      {
        name: 'zookeeper-ensemble',
        rules: [
          // The exporter emits ensemble_quorum 0 even when every member is
          // unreachable, so this fires then too (a rule over vanished
          // per-member series would not). max: any replica that sees a
          // quorum is proof that one exists, within one vantage point:
          // exporters in another data centre that see quorum do not hide
          // that this side lost it (a partition; see ZooKeeperPartitioned).
          // The vantage comes from zookeeper_ensemble_vantage_info; an
          // exporter without it counts as vantage "".
          rule(
            'ZooKeeperQuorumLost',
            |||
              max by (ensemble, vantage) (
                zookeeper_ensemble_quorum{%(sel)s} * on (instance, job, ensemble) group_left (vantage) zookeeper_ensemble_vantage_info{%(sel)s}
                  or on (instance, job, ensemble) zookeeper_ensemble_quorum{%(sel)s}
              ) == 0
            |||,
            f.quorumLost,
            'critical',
            'ZooKeeper ensemble {{ $labels.ensemble }} has lost quorum',
            'Ensemble {{ $labels.ensemble }} has no serving leader with a majority of voters: clients cannot write and most cannot read. Check which members are up: zookeeper_up and zookeeper_server_state for ensemble {{ $labels.ensemble }}.',
          ),
          // Only where the design tolerates a failure: one- and two-voter
          // ensembles never do, and would warn for ever.
          // Where the exporter does not watch every voter, its tolerance is
          // a lower bound (the voters it cannot see count as down): then
          // only the leader's own synced count, where the leader is
          // watched, can say the ensemble is at a bare quorum.
          // ZooKeeperExporterViewIncomplete says the view is partial.
          rule(
            'ZooKeeperQuorumAtRisk',
            |||
              (
                max by (ensemble) (zookeeper_ensemble_failure_tolerance{%(sel)s}) == 0
                  unless on (ensemble) min by (ensemble) (zookeeper_ensemble_unwatched_voters{%(sel)s}) > 0
                or
                max by (ensemble) (zookeeper_ensemble_synced_voters{%(sel)s} - zookeeper_ensemble_quorum_size{%(sel)s}) == 0
              )
                and on (ensemble) max by (ensemble) (zookeeper_ensemble_voters{%(sel)s}) >= 3
            |||,
            f.quorumAtRisk,
            'warning',
            'ZooKeeper ensemble {{ $labels.ensemble }} is one voter away from losing quorum',
            'Ensemble {{ $labels.ensemble }} still has quorum, but losing one more voter breaks it. Do not stop any voter; bring the missing one back first.',
          ),
          // A standalone server has no leader by design; an exporter that
          // does not watch the leader sees none while its followers prove
          // one (ensemble_quorum 1).
          rule(
            'ZooKeeperNoLeader',
            |||
              max by (ensemble) (zookeeper_ensemble_leaders{%(sel)s}) == 0
                and on (ensemble) max by (ensemble) (zookeeper_ensemble_quorum{%(sel)s}) == 0
                and on (ensemble) max by (ensemble) (zookeeper_ensemble_voters{%(sel)s}) > 1
            |||,
            f.noLeader,
            'critical',
            'ZooKeeper ensemble {{ $labels.ensemble }} has no leader',
            'No member of ensemble {{ $labels.ensemble }} reports leader: an election is under way or looping.',
          ),
          rule(
            'ZooKeeperMultipleLeaders',
            'min by (ensemble) (zookeeper_ensemble_leaders{%(sel)s}) > 1',
            f.multipleLeaders,
            'critical',
            'ZooKeeper ensemble {{ $labels.ensemble }} has {{ $value }} leaders',
            'More than one member of ensemble {{ $labels.ensemble }} reports leader at once: a split view, usually members with different server lists or a partition.',
          ),
          rule(
            'ZooKeeperMembershipMismatch',
            'min by (ensemble) (zookeeper_ensemble_config_consistent{%(sel)s}) == 0',
            f.membershipMismatch,
            'critical',
            'Members of ZooKeeper ensemble {{ $labels.ensemble }} disagree on the server list',
            'Members of ensemble {{ $labels.ensemble }} report different membership (conf). This is how elections loop for minutes. Compare zookeeper_member_config_server_info per member.',
          ),
          // The ensemble's own membership and the exporter's configuration
          // disagree: voters nobody watches (their safety answers count
          // them as down), configured members the ensemble does not name,
          // roles the configuration gets wrong. Info: a data-centre-local
          // exporter watches part of an ensemble on purpose.
          rule(
            'ZooKeeperExporterViewIncomplete',
            |||
              min by (ensemble) (zookeeper_ensemble_unwatched_voters{%(sel)s}) > 0
                or count by (ensemble) (max by (ensemble, server) (zookeeper_member_in_membership{%(sel)s}) == 0) > 0
                or count by (ensemble) (max by (ensemble, server) (zookeeper_member_role_mismatch{%(sel)s}) == 1) > 0
            |||,
            f.viewIncomplete,
            'info',
            "The exporter's view of ZooKeeper ensemble {{ $labels.ensemble }} is partial or stale",
            "The membership ensemble {{ $labels.ensemble }} reports differs from the exporter's configuration: see zookeeper_ensemble_server_watched == 0 (voters not watched count as down in failure_tolerance and safe_to_stop), zookeeper_member_in_membership == 0 and zookeeper_member_role_mismatch == 1.",
          ),
          // No for: the window is the duration.
          rule(
            'ZooKeeperLeaderElections',
            'max by (ensemble) (changes(zookeeper_ensemble_epoch{%(sel)s}[%(leaderElectionsWindow)s])) > %(leaderElectionsThreshold)d',
            null,
            'warning',
            'ZooKeeper ensemble {{ $labels.ensemble }} elected a leader {{ $value }} times in ' + humanize(c.leaderElectionsWindow),
            'The epoch of ensemble {{ $labels.ensemble }} keeps rising: leaders are lost and re-elected. Look for a flapping member, GC pauses, or a slow disk.',
          ),
        ],
      },
      {
        name: 'zookeeper-member',
        rules: [
          rule(
            'ZooKeeperMemberDown',
            'max by (ensemble, server) (zookeeper_up{%(sel)s}) == 0',
            f.memberDown,
            'warning',
            'ZooKeeper member {{ $labels.server }} of {{ $labels.ensemble }} is down',
            'Member {{ $labels.server }} of ensemble {{ $labels.ensemble }} does not answer four-letter words (refused, or hung past its deadline).',
          ),
          rule(
            'ZooKeeperMemberNotServing',
            'max by (ensemble, server) (zookeeper_up{%(sel)s} == 1 and zookeeper_serving{%(sel)s} == 0) == 1',
            f.memberNotServing,
            'warning',
            'ZooKeeper member {{ $labels.server }} of {{ $labels.ensemble }} is up but not serving',
            "Member {{ $labels.server }} of ensemble {{ $labels.ensemble }} answers 'This ZooKeeper instance is not currently serving requests': it has no leader (quorum lost elsewhere, or its server list keeps it out of the ensemble).",
          ),
          rule(
            'ZooKeeperFollowerLagging',
            'max by (ensemble, server) (zookeeper_zxid_lag{%(sel)s}) > %(followerLagThreshold)d',
            f.followerLagging,
            'warning',
            'ZooKeeper member {{ $labels.server }} of {{ $labels.ensemble }} is {{ $value }} transactions behind the leader',
            'Member {{ $labels.server }} of ensemble {{ $labels.ensemble }} lags the leader by {{ $value }} transactions within the same epoch.',
          ),
          rule(
            'ZooKeeperOutstandingRequests',
            'max by (ensemble, server) (zookeeper_outstanding_requests{%(sel)s}) > %(outstandingRequestsThreshold)d',
            f.outstandingRequests,
            'warning',
            'ZooKeeper member {{ $labels.server }} of {{ $labels.ensemble }} has {{ $value }} requests queued',
            'Requests queue up on member {{ $labels.server }} of ensemble {{ $labels.ensemble }}: it cannot keep up (disk, GC, or load).',
          ),
          // Recent mean latency from the 3.6+ summaries; the lifetime
          // average (mntr zk_avg_latency) where there are none (3.4, 3.5,
          // srvr only).
          rule(
            'ZooKeeperHighLatency',
            |||
              max by (ensemble, server) (
                  (rate(zookeeper_readlatency_seconds_sum{%(sel)s}[5m]) + rate(zookeeper_updatelatency_seconds_sum{%(sel)s}[5m]))
                / (rate(zookeeper_readlatency_seconds_count{%(sel)s}[5m]) + rate(zookeeper_updatelatency_seconds_count{%(sel)s}[5m]))
                or (zookeeper_latency_avg_seconds{%(sel)s} unless on (ensemble, server) zookeeper_readlatency_seconds_count{%(sel)s})
              ) > %(highLatencyThresholdSeconds)g
            |||,
            f.highLatency,
            'warning',
            'ZooKeeper member {{ $labels.server }} of {{ $labels.ensemble }} answers slowly',
            'Mean request latency on member {{ $labels.server }} of ensemble {{ $labels.ensemble }} is {{ $value | humanizeDuration }}.',
          ),
          rule(
            'ZooKeeperFileDescriptorsNearLimit',
            'max by (ensemble, server) (zookeeper_open_file_descriptors{%(sel)s} / zookeeper_max_file_descriptors{%(sel)s}) > %(fileDescriptorsRatioThreshold)g',
            f.fileDescriptorsNearLimit,
            'warning',
            'ZooKeeper member {{ $labels.server }} of {{ $labels.ensemble }} uses {{ $value | humanizePercentage }} of its file descriptors',
            'Member {{ $labels.server }} of ensemble {{ $labels.ensemble }} is close to its file descriptor limit; at the limit it refuses connections.',
          ),
          rule(
            'ZooKeeperFourLetterWordsDisabled',
            'min by (ensemble, server, command) (zookeeper_four_letter_word_allowed{%(sel)s,command=~"mntr|conf"}) == 0',
            f.fourLetterWordsDisabled,
            'warning',
            'ZooKeeper member {{ $labels.server }} of {{ $labels.ensemble }} refuses {{ $labels.command }}',
            "Member {{ $labels.server }} of ensemble {{ $labels.ensemble }} does not whitelist '{{ $labels.command }}': the exporter falls back to srvr and cannot see synced followers or the membership.",
          ),
        ],
      },
      // The client probe and the vantage points. They need
      // --zookeeper.client-probe (and a canary znode for
      // ZooKeeperWritesStalled); ZooKeeperPartitioned needs exporters with
      // distinct --exporter.vantage values watching the same ensemble.
      {
        name: 'zookeeper-clients',
        rules: [
          // A member the four-letter words call serving that no client can
          // open a session on (the "imok but ConnectionLoss" of the field
          // reports), or client sessions failing on a majority of the
          // probed members.
          rule(
            'ZooKeeperClientsCannotConnect',
            |||
              count by (ensemble) (
                zookeeper_client_probe_success{%(sel)s} == 0
                  and on (instance, job, ensemble, server) zookeeper_serving{%(sel)s} == 1
              ) > 0
              or
              count by (ensemble) (zookeeper_client_probe_success{%(sel)s} == 0)
                > on (ensemble) count by (ensemble) (zookeeper_client_probe_success{%(sel)s}) / 2
            |||,
            f.clientsCannotConnect,
            'critical',
            'Clients cannot connect to ZooKeeper ensemble {{ $labels.ensemble }}',
            "The exporter's client probe cannot open a session and read on {{ $value }} member(s) of ensemble {{ $labels.ensemble }}, members its four-letter words call serving, or a majority of them. See zookeeper_client_probe_failure_reason for why.",
          ),
          // The canary write fails while the same exporter reports quorum:
          // the ensemble looks whole but writes do not commit.
          rule(
            'ZooKeeperWritesStalled',
            |||
              count by (ensemble) (
                zookeeper_canary_write_success{%(sel)s} == 0
                  and on (instance, job, ensemble) zookeeper_ensemble_quorum{%(sel)s} == 1
              ) > 0
            |||,
            f.writesStalled,
            'critical',
            'Writes to ZooKeeper ensemble {{ $labels.ensemble }} do not commit',
            "The canary write to ensemble {{ $labels.ensemble }} fails while the exporter reports quorum: clients' writes stall. See zookeeper_canary_write_failure_reason.",
          ),
          // Two vantage points (exporters with different --exporter.vantage)
          // disagree on quorum, or on whether a member serves. A lost
          // ensemble is seen alike from everywhere and does not fire this.
          // for: longer than a scrape interval, so one scrape caught in the
          // middle of an election does not.
          rule(
            'ZooKeeperPartitioned',
            |||
              (
                max by (ensemble) (max by (ensemble, vantage) (zookeeper_ensemble_quorum{%(sel)s} * on (instance, job, ensemble) group_left (vantage) zookeeper_ensemble_vantage_info{%(sel)s}))
                  != min by (ensemble) (max by (ensemble, vantage) (zookeeper_ensemble_quorum{%(sel)s} * on (instance, job, ensemble) group_left (vantage) zookeeper_ensemble_vantage_info{%(sel)s}))
                or
                count by (ensemble) (
                  max by (ensemble, server) (max by (ensemble, server, vantage) (zookeeper_serving{%(sel)s} * on (instance, job, ensemble) group_left (vantage) zookeeper_ensemble_vantage_info{%(sel)s}))
                    != min by (ensemble, server) (max by (ensemble, server, vantage) (zookeeper_serving{%(sel)s} * on (instance, job, ensemble) group_left (vantage) zookeeper_ensemble_vantage_info{%(sel)s}))
                )
              )
              and on (ensemble) count by (ensemble) (count by (ensemble, vantage) (zookeeper_ensemble_vantage_info{%(sel)s})) > 1
            |||,
            f.partitioned,
            'critical',
            'ZooKeeper ensemble {{ $labels.ensemble }} looks different from different data centres',
            'Exporters at different vantage points disagree on the quorum of ensemble {{ $labels.ensemble }} or on which of its members serve: a network partition. Clients on the side without quorum fail. Compare zookeeper_ensemble_quorum by vantage (zookeeper_ensemble_vantage_info).',
          ),
        ],
      },
      {
        name: 'zookeeper-exporter',
        rules: [
          rule(
            'ZooKeeperExporterDown',
            'up{%(sel)s} == 0',
            f.exporterDown,
            'critical',
            'zookeeper_exporter {{ $labels.instance }} is down',
            'Prometheus cannot scrape zookeeper_exporter {{ $labels.instance }} (job {{ $labels.job }}): the ensembles it watches are not being watched.',
          ),
          // No exporter reports at all (every target gone from service
          // discovery, or the job dropped): ZooKeeperExporterDown cannot
          // fire without targets, and neither can any ZooKeeper alert.
          rule(
            'ZooKeeperExporterAbsent',
            'absent(zookeeper_exporter_build_info{%(sel)s})',
            f.exporterAbsent,
            'critical',
            'No zookeeper_exporter reports to Prometheus',
            'zookeeper_exporter_build_info has been absent for ' + humanize(f.exporterAbsent) + ': no ZooKeeper ensemble is being watched, and no ZooKeeper alert can fire.',
          ),
        ],
      },
    ],
  },
}
