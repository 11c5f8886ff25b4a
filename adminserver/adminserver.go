// Package adminserver reads ZooKeeper's AdminServer HTTP API (3.5+, port
// 8080 by default). It ignores 4lw.commands.whitelist, so it gives the full
// mntr values where the four-letter words are locked down. The replies are
// turned into the fourletter package's values, so the rest of the exporter
// does not care which source they came from.
package adminserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
)

// Client asks one AdminServer command of a member.
type Client struct {
	HTTP   *http.Client
	Scheme string // http or https
	Port   int
}

// Get fetches /commands/<command> from the member's host. A member that is
// not serving answers monitor with HTTP 500 (a Jetty error page) and every
// other command with an "error" field: both are fourletter.ErrNotServing.
func (c *Client) Get(ctx context.Context, memberAddr, command string) ([]byte, error) {
	host, _, err := net.SplitHostPort(memberAddr)
	if err != nil {
		return nil, err
	}
	scheme := c.Scheme
	if scheme == "" {
		scheme = "http"
	}
	url := scheme + "://" + net.JoinHostPort(host, strconv.Itoa(c.Port)) + "/commands/" + command
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, fourletter.MaxResponseBytes))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusInternalServerError && command == "monitor" {
		return nil, fmt.Errorf("%w (HTTP 500 from monitor)", fourletter.ErrNotServing)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("admin server %s: HTTP %d", command, resp.StatusCode)
	}
	return body, commandError(body)
}

// commandError reads the "error" field every command carries.
func commandError(body []byte) error {
	var env struct {
		Error *string `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("admin server reply is not JSON: %w", err)
	}
	switch {
	case env.Error == nil:
		return nil
	case strings.Contains(*env.Error, "not currently serving"):
		return fourletter.ErrNotServing
	}
	return errors.New("admin server: " + *env.Error)
}

// ParseMonitor turns /commands/monitor (mntr's keys without zk_, as JSON)
// into a fourletter.Mntr. Keys are sorted: JSON objects have no order.
func ParseMonitor(body []byte) (fourletter.Mntr, error) {
	var m fourletter.Mntr
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return m, fmt.Errorf("monitor: %w", err)
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := obj[k].(type) {
		case json.Number:
			f, err := v.Float64()
			if err != nil {
				m.Malformed++
				continue
			}
			m.Samples = append(m.Samples, fourletter.Sample{Key: k, Value: f})
		case string:
			switch k {
			case "version":
				m.Version = v
			case "server_state":
				m.ServerState = v
			}
		case nil, bool:
			// "error": null, "command": "monitor" and the like.
		default:
			m.Malformed++
		}
	}
	if m.ServerState == "" {
		return m, errors.New("monitor: no server_state")
	}
	return m, nil
}

// ParseVotingView turns /commands/voting_view into server lines: voters
// only (the AdminServer does not list observers there).
func ParseVotingView(body []byte) ([]fourletter.ServerLine, error) {
	var vv struct {
		CurrentConfig map[string]struct {
			ServerAddresses   []string `json:"server_addresses"`
			ElectionAddresses []string `json:"election_addresses"`
			ClientAddress     string   `json:"client_address"`
			LearnerType       string   `json:"learner_type"`
		} `json:"current_config"`
	}
	if err := json.Unmarshal(body, &vv); err != nil {
		return nil, fmt.Errorf("voting_view: %w", err)
	}
	var lines []fourletter.ServerLine
	for id, s := range vv.CurrentConfig {
		sid, err := strconv.ParseInt(id, 10, 64)
		if err != nil || len(s.ServerAddresses) == 0 || len(s.ElectionAddresses) == 0 {
			return nil, fmt.Errorf("voting_view: bad server %q", id)
		}
		// The same "host:quorum:election" form as conf's server lines.
		var addrs []string
		for i, q := range s.ServerAddresses {
			if i < len(s.ElectionAddresses) {
				_, ePort, _ := net.SplitHostPort(s.ElectionAddresses[i])
				addrs = append(addrs, q+":"+ePort)
			}
		}
		role := s.LearnerType
		if role == "" {
			role = "participant"
		}
		line := fourletter.ServerLine{ID: sid, Addresses: strings.Join(addrs, "|"), Role: role}
		line.Raw = "server." + id + "=" + line.Addresses + ":" + role
		lines = append(lines, line)
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i].ID < lines[j].ID })
	return lines, nil
}

// ParseServerID reads server_id from /commands/configuration.
func ParseServerID(body []byte) (int64, error) {
	var c struct {
		ServerID *int64 `json:"server_id"`
	}
	if err := json.Unmarshal(body, &c); err != nil || c.ServerID == nil {
		return -1, fmt.Errorf("configuration: no server_id (%v)", err)
	}
	return *c.ServerID, nil
}

// Monitor reads /commands/monitor: what mntr says, for members whose 4lw
// whitelist refuses mntr (the AdminServer ignores the whitelist). A member
// that is not serving answers it with HTTP 500: fourletter.ErrNotServing.
func (c *Client) Monitor(ctx context.Context, memberAddr string) (fourletter.Mntr, error) {
	body, err := c.Get(ctx, memberAddr, "monitor")
	if err != nil {
		return fourletter.Mntr{}, err
	}
	return ParseMonitor(body)
}

// Membership reads what conf's membership block says, from
// /commands/voting_view (voters only) and the member's own server id from
// /commands/configuration. The peer type is not told: the caller knows it
// from the member's state.
func (c *Client) Membership(ctx context.Context, memberAddr string) (fourletter.Conf, error) {
	c2 := fourletter.Conf{ServerID: -1}
	vv, err := c.Get(ctx, memberAddr, "voting_view")
	if err != nil {
		return c2, err
	}
	cfg, err := c.Get(ctx, memberAddr, "configuration")
	if err != nil {
		return c2, err
	}
	if c2.Servers, err = ParseVotingView(vv); err != nil {
		return c2, err
	}
	if c2.ServerID, err = ParseServerID(cfg); err != nil {
		return c2, err
	}
	c2.HasMembership = true
	return c2, nil
}
