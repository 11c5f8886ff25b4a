package collector

import "github.com/zookeeper-exporter/zookeeper_exporter/fourletter"

// curated is a mntr key (or srvr line) with a name of its own. Help says
// where the value comes from; srvr stands in when mntr is refused.
type curated struct {
	key  string // mntr key without zk_
	name string // metric name without zookeeper_
	help string
	kind valueKind
	ms   bool // ZooKeeper's milliseconds, exposed in seconds
	// srvr reads the same value from a srvr reply, when srvr has it.
	srvr func(*fourletter.Srvr) (float64, bool)
}

// curatedMntr is the table of mntr keys with curated names (the README lists them).
var curatedMntr = []curated{
	{key: "outstanding_requests", name: "outstanding_requests", help: "Requests queued on the member (mntr zk_outstanding_requests, srvr Outstanding).",
		srvr: func(s *fourletter.Srvr) (float64, bool) { return s.Outstanding, s.HasOutstanding }},
	{key: "num_alive_connections", name: "alive_connections", help: "Client connections open on the member, the exporter's own included (mntr zk_num_alive_connections, srvr Connections).",
		srvr: func(s *fourletter.Srvr) (float64, bool) { return s.Connections, s.HasConnections }},
	{key: "znode_count", name: "znodes", help: "Znodes in the member's data tree (mntr zk_znode_count, srvr Node count).",
		srvr: func(s *fourletter.Srvr) (float64, bool) { return s.NodeCount, s.HasNodeCount }},
	{key: "watch_count", name: "watches", help: "Watches set on the member (mntr zk_watch_count)."},
	{key: "ephemerals_count", name: "ephemerals", help: "Ephemeral znodes (mntr zk_ephemerals_count)."},
	{key: "approximate_data_size", name: "approximate_data_size_bytes", help: "Approximate size of the data tree in bytes (mntr zk_approximate_data_size)."},
	{key: "open_file_descriptor_count", name: "open_file_descriptors", help: "File descriptors the member's JVM has open (mntr zk_open_file_descriptor_count)."},
	{key: "max_file_descriptor_count", name: "max_file_descriptors", help: "File descriptor limit of the member's JVM (mntr zk_max_file_descriptor_count)."},
	{key: "packets_received", name: "packets_received_total", kind: kindCounter, help: "Packets received since start or the last srst (mntr zk_packets_received, srvr Received).",
		srvr: func(s *fourletter.Srvr) (float64, bool) { return s.Received, s.HasReceived }},
	{key: "packets_sent", name: "packets_sent_total", kind: kindCounter, help: "Packets sent since start or the last srst (mntr zk_packets_sent, srvr Sent).",
		srvr: func(s *fourletter.Srvr) (float64, bool) { return s.Sent, s.HasSent }},
	{key: "min_latency", name: "latency_min_seconds", ms: true, help: "Smallest request latency since start or the last srst (mntr zk_min_latency, srvr Latency min, ms converted to seconds).",
		srvr: func(s *fourletter.Srvr) (float64, bool) { return s.LatencyMin, s.HasLatency }},
	{key: "avg_latency", name: "latency_avg_seconds", ms: true, help: "Average request latency since start or the last srst (mntr zk_avg_latency, srvr Latency avg, ms converted to seconds).",
		srvr: func(s *fourletter.Srvr) (float64, bool) { return s.LatencyAvg, s.HasLatency }},
	{key: "max_latency", name: "latency_max_seconds", ms: true, help: "Largest request latency since start or the last srst (mntr zk_max_latency, srvr Latency max, ms converted to seconds).",
		srvr: func(s *fourletter.Srvr) (float64, bool) { return s.LatencyMax, s.HasLatency }},
	{key: "uptime", name: "uptime_seconds", ms: true, help: "Time since the member's server started (mntr zk_uptime, 3.6+)."},
	{key: "leader_uptime", name: "leader_uptime_seconds", ms: true, help: "Time since this member became leader (mntr zk_leader_uptime, leader only, 3.6+)."},
	{key: "learners", name: "learners", help: "Followers and observers connected to this leader (mntr zk_learners; zk_followers before 3.6)."},
	{key: "followers", name: "learners", help: "Followers and observers connected to this leader (mntr zk_learners; zk_followers before 3.6)."},
	{key: "synced_followers", name: "synced_followers", help: "Voting followers in sync with this leader (mntr zk_synced_followers, leader only)."},
	{key: "synced_non_voting_followers", name: "synced_non_voting_followers", help: "Non-voting followers in sync with this leader (mntr zk_synced_non_voting_followers, leader only)."},
	{key: "synced_observers", name: "synced_observers", help: "Observers in sync with this leader (mntr zk_synced_observers, leader only)."},
	{key: "pending_syncs", name: "pending_syncs", help: "Learners waiting to sync with this leader (mntr zk_pending_syncs, leader only)."},
	{key: "quorum_size", name: "voting_members", help: "Voting members in this member's configuration (mntr zk_quorum_size, which counts voters, not the majority)."},
}

var curatedByKey = func() map[string]*curated {
	m := make(map[string]*curated, len(curatedMntr))
	for i := range curatedMntr {
		m[curatedMntr[i].key] = &curatedMntr[i]
	}
	return m
}()
