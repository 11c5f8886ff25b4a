package fourletter

import (
	"errors"
	"fmt"
	"io"
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
	Malformed     int
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
				c.ConfigVersion = value
			case strings.HasPrefix(key, "server."):
				s, err := parseServerLine(key, value)
				if err != nil {
					c.Malformed++
					continue
				}
				c.Servers = append(c.Servers, s)
			default:
				c.Malformed++
			}
			continue
		}
		c.Settings[key] = value
	}
	if len(c.Settings) == 0 && !c.HasMembership {
		return c, errors.New("conf: no key=value line")
	}
	if v, ok := c.Settings["serverId"]; ok {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
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

func parseServerLine(key, value string) (ServerLine, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(key, "server."), 10, 64)
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
