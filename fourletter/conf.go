package fourletter

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Conf is a parsed `conf` reply: the member's own view of its configuration
// and, since 3.5, of the ensemble's membership.
type Conf struct {
	// Settings holds every key=value line before the membership block.
	Settings map[string]string
	// ServerID is serverId (0 in standalone).
	ServerID int64
	// PeerType is "participant" or "observer" (peerType 0 or 1); empty when
	// the reply has no peerType line (standalone).
	PeerType string
	// Servers is the membership block, in the order sent. Empty before 3.5
	// and in standalone mode.
	Servers []ServerLine
	// ConfigVersion is the hex "version=" that ends the block (3.5+).
	ConfigVersion string
	// HasMembership says whether a "membership:" block was present.
	HasMembership bool
	// Groups and Weights are the hierarchical quorum's group.N=a:b:c and
	// weight.N=w lines (server id to group id, server id to weight); nil
	// for a plain majority ensemble.
	Groups    map[int64]int64
	Weights   map[int64]int64
	Malformed int
}

// ServerLine is one `server.N=...` line of the membership block, e.g.
// `server.1=127.0.0.1:22888:23888:participant;127.0.0.1:22181`.
type ServerLine struct {
	ID int64
	// Addresses is the quorum/election part before the role, unparsed: since
	// 3.6 it may list several "host:q:e" joined by "|".
	Addresses string
	Role      string // participant or observer
	// ClientAddress is the part after ";" (3.5+ style), "" when absent.
	ClientAddress string
	Raw           string
}

// Voters counts the participants in the membership block.
func (c Conf) Voters() int {
	n := 0
	for _, s := range c.Servers {
		if s.Role == "participant" {
			n++
		}
	}
	return n
}

// Observers counts the observers in the membership block.
func (c Conf) Observers() int { return len(c.Servers) - c.Voters() }

// MembershipKey is a canonical text of the membership (server lines and
// version): members that disagree on it disagree on who is in the ensemble.
func (c Conf) MembershipKey() string {
	var b strings.Builder
	for _, s := range c.Servers {
		b.WriteString(s.Raw)
		b.WriteByte('\n')
	}
	// ZooKeeper prints groups and weights in hash order: sort them.
	for _, id := range sortedKeys(c.Groups) {
		fmt.Fprintf(&b, "group-of.%d=%d\n", id, c.Groups[id])
	}
	for _, id := range sortedKeys(c.Weights) {
		fmt.Fprintf(&b, "weight.%d=%d\n", id, c.Weights[id])
	}
	b.WriteString("version=")
	b.WriteString(c.ConfigVersion)
	return b.String()
}

// ParseConf parses `conf`. The membership block starts with "membership: "
// (note ZooKeeper's trailing space) and ends with "version=<hex>" sent
// without a newline.
func ParseConf(r io.Reader) (Conf, error) {
	c := Conf{Settings: make(map[string]string, 24), ServerID: -1}
	text, err := readText(r)
	if err != nil {
		return c, fmt.Errorf("reading conf: %w", err)
	}
	inMembership := false
	for text != "" {
		var line string
		line, text, _ = strings.Cut(text, "\n")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "membership:") {
			inMembership = true
			c.HasMembership = true
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			c.Malformed++
			continue
		}
		if inMembership {
			switch {
			case key == "version":
				// ZooKeeper writes Long.toHexString of the zxid that made
				// the configuration: anything else is no version.
				if !validVersion(value) {
					c.Malformed++
					continue
				}
				c.ConfigVersion = value
			case strings.HasPrefix(key, "server."):
				s, err := parseServerLine(key, value)
				if err != nil {
					c.Malformed++
					continue
				}
				c.Servers = append(c.Servers, s)
			case strings.HasPrefix(key, "group."):
				if !c.parseGroup(key, value) {
					c.Malformed++
				}
			case strings.HasPrefix(key, "weight."):
				id, err1 := parseID(strings.TrimPrefix(key, "weight."))
				w, err2 := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
				// A weight past maxWeight would overflow the quorum's sums.
				if err1 != nil || err2 != nil || w < 0 || w > maxWeight {
					c.Malformed++
					continue
				}
				if c.Weights == nil {
					c.Weights = map[int64]int64{}
				}
				c.Weights[id] = w
			default:
				c.Malformed++
			}
			continue
		}
		c.Settings[key] = value
	}
	// Bytes with an '=' somewhere are not a conf: a real one always has
	// clientPort= or serverId= (or, as /zookeeper/config, the membership).
	_, port := c.Settings["clientPort"]
	_, id := c.Settings["serverId"]
	if !port && !id && !c.HasMembership {
		return c, errors.New("conf: no clientPort=, serverId= or membership: not a conf reply")
	}
	if v, ok := c.Settings["serverId"]; ok {
		if id, err := parseID(v); err == nil {
			c.ServerID = id
		} else {
			c.Malformed++
		}
	}
	switch c.Settings["peerType"] {
	case "0":
		c.PeerType = "participant"
	case "1":
		c.PeerType = "observer"
	}
	return c, nil
}

// parseGroup reads group.G=1:2:3 (server ids joined by ":"). A server in
// two groups is malformed: ZooKeeper refuses such a configuration.
func (c *Conf) parseGroup(key, value string) bool {
	gid, err := strconv.ParseInt(strings.TrimPrefix(key, "group."), 10, 64)
	if err != nil {
		return false
	}
	if c.Groups == nil {
		c.Groups = map[int64]int64{}
	}
	for _, part := range strings.Split(value, ":") {
		id, err := parseID(strings.TrimSpace(part))
		if err != nil {
			return false
		}
		if g, dup := c.Groups[id]; dup && g != gid {
			return false
		}
		c.Groups[id] = gid
	}
	return true
}

// Hierarchical says whether the membership uses hierarchical quorums.
func (c Conf) Hierarchical() bool { return len(c.Groups) > 0 }

func sortedKeys(m map[int64]int64) []int64 {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// maxWeight bounds a hierarchical quorum's weight.N: ZooKeeper reads a
// long, real ensembles use single digits, and the exporter sums the weights
// of up to every server of a reply in an int64.
const maxWeight = 1<<31 - 1

// parseID parses a server id: ZooKeeper's sid is a long, never negative
// (the exporter gives members whose id nobody told negative ones).
func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err == nil && id < 0 {
		err = fmt.Errorf("server id %d: negative", id)
	}
	return id, err
}

// validVersion says whether a config version is hex that fits a uint64,
// as ZooKeeper prints it (e.g. "100000000").
func validVersion(v string) bool {
	_, err := strconv.ParseUint(v, 16, 64)
	return err == nil
}

func parseServerLine(key, value string) (ServerLine, error) {
	id, err := parseID(strings.TrimPrefix(key, "server."))
	if err != nil {
		return ServerLine{}, fmt.Errorf("server id in %q: %w", key, err)
	}
	s := ServerLine{ID: id, Raw: key + "=" + value}
	addrs, client, _ := strings.Cut(value, ";")
	s.ClientAddress = strings.TrimSpace(client)
	// The role is the last ":" field when it names one; ZooKeeper always
	// writes it in conf, zoo.cfg may omit it (then: participant).
	s.Role = "participant"
	if i := strings.LastIndexByte(addrs, ':'); i >= 0 {
		switch addrs[i+1:] {
		case "participant", "observer":
			s.Role = addrs[i+1:]
			addrs = addrs[:i]
		}
	}
	if addrs == "" {
		return ServerLine{}, fmt.Errorf("%q: no address", key)
	}
	s.Addresses = addrs
	return s, nil
}
