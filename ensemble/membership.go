package ensemble

import (
	"net"
	"strconv"
	"strings"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
)

// Roles of a server in the ensemble.
const (
	RoleVoter    = "voter"
	RoleObserver = "observer"
)

// Sources of a membership, the values of
// zookeeper_ensemble_membership_info{source}.
const (
	SourceConf       = "conf"        // a member's conf (4lw)
	SourceAdmin      = "adminserver" // the AdminServer's voting_view (voters only)
	SourceZnode      = "znode"       // the /zookeeper/config znode
	SourceLastKnown  = "last_known"  // told earlier; no member tells it now (none serves)
	SourceConfigured = "configured"  // the exporter's own list: nobody ever told
)

// Server is one server of the membership.
type Server struct {
	// ID is the server id (server.N); negative for a configured member
	// whose id nobody told.
	ID   int64
	Role string // RoleVoter or RoleObserver
	// QuorumAddresses is the server line's quorum and election part.
	QuorumAddresses string
	// ClientAddress is host:port where clients (and the exporter) reach the
	// server, when the server line tells it; "" otherwise.
	ClientAddress string
	// Group and Weight, for a hierarchical quorum (Group -1: in no group).
	Group, Weight int64
}

// Membership is who is in the ensemble, and the quorum rule among them.
type Membership struct {
	Servers []Server
	// Version is the config version (hex, as ZooKeeper prints it), "" when
	// not told.
	Version string
	Source  string
	Rule    Rule
}

// Voters and Observers count the servers by role.
func (m Membership) Voters() int    { return m.Rule.Voters() }
func (m Membership) Observers() int { return len(m.Servers) - m.Rule.Voters() }

// FromEnsemble reports whether the membership was told by the ensemble.
func (m Membership) FromEnsemble() bool { return m.Source != SourceConfigured }

// index returns the position of the server with id, or -1.
func (m Membership) index(id int64) int {
	for i, s := range m.Servers {
		if s.ID == id {
			return i
		}
	}
	return -1
}

// MembershipOf turns a conf membership block into a Membership.
func MembershipOf(c *fourletter.Conf, source string) Membership {
	m := Membership{Version: c.ConfigVersion, Source: source}
	var voters []int64
	for _, line := range c.Servers {
		s := Server{ID: line.ID, Role: RoleVoter, QuorumAddresses: line.Addresses, ClientAddress: ClientAddress(line), Group: -1, Weight: 1}
		if line.Role == "observer" {
			s.Role = RoleObserver
		} else {
			voters = append(voters, line.ID)
		}
		if g, ok := c.Groups[line.ID]; ok {
			s.Group = g
		}
		if w, ok := c.Weights[line.ID]; ok {
			s.Weight = w
		}
		m.Servers = append(m.Servers, s)
	}
	if c.Hierarchical() {
		m.Rule = Hierarchical(voters, c.Groups, c.Weights)
	} else {
		m.Rule = Majority(voters)
	}
	return m
}

// configured is the fallback membership: the exporter's own list, each
// member a voter unless marked :observer or serving as an observer.
func configured(snaps []MemberSnapshot) Membership {
	m := Membership{Source: SourceConfigured}
	var voters []int64
	for i, s := range snaps {
		id := -int64(i + 1)
		role := RoleVoter
		if (s.Member.Observer && !s.votes()) || s.State == StateObserver {
			role = RoleObserver
		} else {
			voters = append(voters, id)
		}
		m.Servers = append(m.Servers, Server{ID: id, Role: role, ClientAddress: s.Member.Address, Group: -1, Weight: 1})
	}
	m.Rule = Majority(voters)
	return m
}

// ClientAddress is where a server line says clients reach the server:
// the part after ";" of a 3.5+ line, with the quorum host where it names
// none or a wildcard. "" when the line does not tell.
func ClientAddress(line fourletter.ServerLine) string {
	c := line.ClientAddress
	if c == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(c)
	if err != nil {
		port, host = c, "" // ";2181": a port alone
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = QuorumHost(line.Addresses)
	}
	if host == "" {
		return ""
	}
	return net.JoinHostPort(host, port)
}

// QuorumHost is the host of the first quorum address ("host:q:e", or
// "[v6]:q:e", or several joined by "|").
func QuorumHost(addresses string) string {
	first, _, _ := strings.Cut(addresses, "|")
	if strings.HasPrefix(first, "[") {
		if end := strings.IndexByte(first, ']'); end > 0 {
			return first[1:end]
		}
		return ""
	}
	host, _, _ := strings.Cut(first, ":")
	return host
}

// reconcile picks the membership the ensemble commits to from what the
// members say: the newest config version wins (a live reconfiguration
// shows on the members one by one); among equals, the leader's view, then
// a serving member's, then the view most members share. The AdminServer's
// voting views (voters only) count only when no member answered conf;
// fallback (the /zookeeper/config znode, or the membership told earlier)
// only when no member tells it now.
func reconcile(snaps []MemberSnapshot, fallback *Membership) (Membership, bool) {
	for _, fromAdmin := range []bool{false, true} {
		best := -1
		var bestRank [4]int64
		count := map[string]int{}
		for _, s := range snaps {
			if s.Conf != nil && s.Conf.HasMembership && s.ConfFromAdmin == fromAdmin {
				count[s.Conf.MembershipKey()]++
			}
		}
		for i, s := range snaps {
			c := s.Conf
			if c == nil || !c.HasMembership || len(c.Servers) == 0 || s.ConfFromAdmin != fromAdmin {
				continue
			}
			version := int64(-1)
			if v, err := strconv.ParseUint(c.ConfigVersion, 16, 62); err == nil {
				version = int64(v)
			}
			role := int64(0)
			switch {
			case s.State == StateLeader:
				role = 2
			case s.Serving:
				role = 1
			}
			rank := [4]int64{version, role, int64(count[c.MembershipKey()]), -int64(i)}
			if best < 0 || greater(rank, bestRank) {
				best, bestRank = i, rank
			}
		}
		if best >= 0 {
			if !fromAdmin {
				return MembershipOf(snaps[best].Conf, SourceConf), true
			}
			// voting_view lists voters only: the observers are the
			// configured ones (marked, or serving as observers).
			m := MembershipOf(snaps[best].Conf, SourceAdmin)
			for _, srv := range configured(snaps).Servers {
				if srv.Role == RoleObserver {
					m.Servers = append(m.Servers, srv)
				}
			}
			return m, true
		}
	}
	if fallback != nil && len(fallback.Servers) > 0 {
		return *fallback, true
	}
	return configured(snaps), false
}

func greater(a, b [4]int64) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return false
}

// match finds each watched member's server in the membership: by the
// server id it reports, else by the client address its server line tells,
// else by a host that only it and one server line have. -1 where none.
func match(snaps []MemberSnapshot, m Membership) []int {
	out := make([]int, len(snaps))
	taken := make([]bool, len(m.Servers))
	for i := range out {
		out[i] = -1
	}
	if !m.FromEnsemble() {
		for i := range snaps {
			out[i] = i
		}
		return out
	}
	assign := func(i, j int) {
		if j >= 0 && !taken[j] && out[i] < 0 {
			out[i], taken[j] = j, true
		}
	}
	for i, s := range snaps {
		if s.Conf != nil && s.Conf.ServerID >= 0 && (s.Conf.HasMembership || s.Conf.PeerType != "") {
			assign(i, m.index(s.Conf.ServerID))
		}
	}
	for i, s := range snaps {
		for j, srv := range m.Servers {
			if out[i] < 0 && srv.ClientAddress != "" && sameAddress(srv.ClientAddress, s.Member.Address) {
				assign(i, j)
			}
		}
	}
	// A host of one server line and one watched member only.
	hostOf := func(addr string) string { h, _, _ := net.SplitHostPort(addr); return h }
	lines, watched := map[string]int{}, map[string]int{}
	for _, srv := range m.Servers {
		lines[QuorumHost(srv.QuorumAddresses)]++
	}
	for _, s := range snaps {
		watched[hostOf(s.Member.Address)]++
	}
	for i, s := range snaps {
		h := hostOf(s.Member.Address)
		if out[i] >= 0 || h == "" || lines[h] != 1 || watched[h] != 1 {
			continue
		}
		for j, srv := range m.Servers {
			if QuorumHost(srv.QuorumAddresses) == h {
				assign(i, j)
			}
		}
	}
	// By elimination, for members that are down or not serving only (they
	// count as down whichever server they are, so a wrong pair cannot make
	// an answer less safe): the one member left over and the one server of
	// its configured role left over.
	var lone, free []int
	for i, s := range snaps {
		if out[i] < 0 && !s.provesLeader() && !(s.Conf != nil && s.Conf.HasMembership) {
			lone = append(lone, i)
		}
	}
	for j := range m.Servers {
		if !taken[j] {
			free = append(free, j)
		}
	}
	if len(lone) == 1 && len(free) == 1 && len(snaps) == len(m.Servers) && m.Servers[free[0]].Role == configuredRole(snaps[lone[0]].Member) {
		assign(lone[0], free[0])
	}
	return out
}

func sameAddress(a, b string) bool {
	ha, pa, err1 := net.SplitHostPort(a)
	hb, pb, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	return pa == pb && strings.EqualFold(ha, hb)
}

// configuredRole is a member's role by the exporter's configuration.
func configuredRole(m config.Member) string {
	if m.Observer {
		return RoleObserver
	}
	return RoleVoter
}
