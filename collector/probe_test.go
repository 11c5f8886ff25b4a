package collector

import (
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
)

// TestClientProbeSeries: a success gives its two timings, a failure its
// reason (and the timing it got); a member without a probe result, and an
// ensemble without the probe, give none; the vantage and the canary.
func TestClientProbeSeries(t *testing.T) {
	now := time.Now()
	ok := &ensemble.ProbeResult{Success: true, Session: 20 * time.Millisecond, HasSession: true, Op: 5 * time.Millisecond, HasOp: true, At: now, Connections: 1}
	lost := &ensemble.ProbeResult{Reason: ensemble.ProbeConnectionLoss, At: now, Connections: 1}
	noAuth := &ensemble.ProbeResult{Reason: ensemble.ProbeAuthFailed, Session: 30 * time.Millisecond, HasSession: true, At: now}
	canary := &ensemble.ProbeResult{Reason: ensemble.ProbeTimeout, At: now}
	members := []ensemble.MemberSnapshot{
		{Member: config.Member{Address: "zk1:2181"}, Probe: ok},
		{Member: config.Member{Address: "zk2:2181"}, Probe: lost},
		{Member: config.Member{Address: "zk3:2181"}, Probe: noAuth},
		{Member: config.Member{Address: "zk4:2181"}},
	}
	probed := ensemble.NewResult(ensemble.Target{Name: "p", Vantage: "dc1", Probe: &ensemble.ClientProbe{}}, members, nil, time.Second)
	probed.Canary, probed.ProbeConnections = canary, 7
	plain := ensemble.NewResult(ensemble.Target{Name: "q"}, members[:1], nil, time.Second)

	want := `
# HELP zookeeper_canary_write_failure_reason 1 for why the last canary write failed (the client probe's reasons; absent on success).
# TYPE zookeeper_canary_write_failure_reason gauge
zookeeper_canary_write_failure_reason{ensemble="p",reason="timeout"} 1
# HELP zookeeper_canary_write_success 1 when the last canary write (set of the canary znode, through any member) committed within the deadline.
# TYPE zookeeper_canary_write_success gauge
zookeeper_canary_write_success{ensemble="p"} 0
# HELP zookeeper_client_probe_connections_total TCP connections the client probes and canary writes of this ensemble opened since the exporter started (ZooKeeper's maxClientCnxns counts them per client host).
# TYPE zookeeper_client_probe_connections_total counter
zookeeper_client_probe_connections_total{ensemble="p"} 7
# HELP zookeeper_client_probe_failure_reason 1 for why the last client probe of this member failed: refused, timeout, connection_loss, session_expired, auth_failed, not_serving or other (absent on success).
# TYPE zookeeper_client_probe_failure_reason gauge
zookeeper_client_probe_failure_reason{ensemble="p",reason="auth_failed",server="zk3:2181"} 1
zookeeper_client_probe_failure_reason{ensemble="p",reason="connection_loss",server="zk2:2181"} 1
# HELP zookeeper_client_probe_read_seconds Time the last client probe's read of its znode took on this member (absent when the read did not complete).
# TYPE zookeeper_client_probe_read_seconds gauge
zookeeper_client_probe_read_seconds{ensemble="p",server="zk1:2181"} 0.005
# HELP zookeeper_client_probe_session_seconds Time the last client probe took to establish its session with this member (absent when none was established).
# TYPE zookeeper_client_probe_session_seconds gauge
zookeeper_client_probe_session_seconds{ensemble="p",server="zk1:2181"} 0.02
zookeeper_client_probe_session_seconds{ensemble="p",server="zk3:2181"} 0.03
# HELP zookeeper_client_probe_success 1 when the last client probe opened a session against this member alone and read the probe's znode within the member's deadline.
# TYPE zookeeper_client_probe_success gauge
zookeeper_client_probe_success{ensemble="p",server="zk1:2181"} 1
zookeeper_client_probe_success{ensemble="p",server="zk2:2181"} 0
zookeeper_client_probe_success{ensemble="p",server="zk3:2181"} 0
# HELP zookeeper_ensemble_vantage_info Constant 1: where this exporter watches the ensemble from (--exporter.vantage or the ensemble's vantage); join on instance to compare the views of several exporters.
# TYPE zookeeper_ensemble_vantage_info gauge
zookeeper_ensemble_vantage_info{ensemble="p",vantage="dc1"} 1
`
	c := Ensembles{Results: []ensemble.Result{probed, plain}, Logger: log.NewNopLogger()}
	names := []string{"zookeeper_canary_write_failure_reason", "zookeeper_canary_write_success", "zookeeper_canary_write_seconds",
		"zookeeper_client_probe_connections_total", "zookeeper_client_probe_failure_reason", "zookeeper_client_probe_read_seconds",
		"zookeeper_client_probe_session_seconds", "zookeeper_client_probe_success", "zookeeper_ensemble_vantage_info"}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	// Age: one series per probed member, never negative.
	if n := testutil.CollectAndCount(c, "zookeeper_client_probe_age_seconds"); n != 3 {
		t.Errorf("%d age series, want 3", n)
	}
}
