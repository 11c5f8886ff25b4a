package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The address grammar: how members are written in flags, YAML and /probe.

// DefaultPort is ZooKeeper's client port.
const DefaultPort = "2181"

// Member is one server as configured: "host:port" or "host:port:observer".
type Member struct {
	Address  string // host:port, the `server` label
	Observer bool
}

// UnmarshalYAML parses "host:port[:observer]".
func (m *Member) UnmarshalYAML(node *yaml.Node) error {
	var s string
	if err := node.Decode(&s); err != nil {
		return fmt.Errorf("line %d: servers: want a string such as zk1:2181 or zk9:2181:observer", node.Line)
	}
	member, err := ParseMember(s)
	if err != nil {
		return fmt.Errorf("line %d: servers: %w", node.Line, err)
	}
	*m = member
	return nil
}

// ParseServers splits a comma- or space-separated list of
// host[:port][:observer] entries. The space-separated form is Apigee Edge's
// ZK_HOSTS, so --zookeeper.servers="$ZK_HOSTS" works as it is.
func ParseServers(s string) ([]Member, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n'
	})
	if len(fields) == 0 {
		return nil, errors.New("no server given")
	}
	members := make([]Member, 0, len(fields))
	seen := map[string]bool{}
	for _, f := range fields {
		m, err := ParseMember(f)
		if err != nil {
			return nil, err
		}
		if seen[m.Address] {
			return nil, fmt.Errorf("server %q is listed twice", m.Address)
		}
		seen[m.Address] = true
		members = append(members, m)
	}
	return members, nil
}

// MaxAddressLength bounds one entry: a DNS name is at most 253 bytes, and
// brackets, a port and ":participant" fit in the rest. A longer one is no
// address, and is never echoed whole.
const MaxAddressLength = 300

// ParseMember parses one host[:port][:observer|:participant] entry. IPv6
// hosts are bracketed: [::1]:2181.
func ParseMember(s string) (Member, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxAddressLength {
		return Member{}, fmt.Errorf("server %q...: longer than %d bytes", s[:32], MaxAddressLength)
	}
	var m Member
	rest := s
	if base, role, ok := cutRole(rest); ok {
		rest = base
		m.Observer = role == "observer"
	}
	host, port := rest, DefaultPort
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return Member{}, fmt.Errorf("server %q: unclosed [ in IPv6 address", s)
		}
		host = rest[1:end]
		switch tail := rest[end+1:]; {
		case tail == "":
		case strings.HasPrefix(tail, ":"):
			port = tail[1:]
		default:
			return Member{}, fmt.Errorf("server %q: unexpected %q after ]", s, tail)
		}
	} else if h, p, ok := strings.Cut(rest, ":"); ok {
		if strings.Contains(p, ":") {
			return Member{}, fmt.Errorf("server %q: want host[:port][:observer] (bracket IPv6 addresses)", s)
		}
		host, port = h, p
	}
	if host == "" {
		return Member{}, fmt.Errorf("server %q: empty host", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return Member{}, fmt.Errorf("server %q: port %q is not a number from 1 to 65535", s, port)
	}
	m.Address = net.JoinHostPort(host, port)
	return m, nil
}

func cutRole(s string) (string, string, bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return s, "", false
	}
	switch role := strings.ToLower(s[i+1:]); role {
	case "observer", "participant":
		return s[:i], role, true
	}
	return s, "", false
}
