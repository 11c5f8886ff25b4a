package fourletter

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Srvr is a parsed `srvr` (or `stat`) reply. srvr is the one word every
// server since 3.5.3 allows by default, and the only one with the zxid.
type Srvr struct {
	Version     string
	LatencyMin  float64 // milliseconds
	LatencyAvg  float64 // milliseconds; an integer before 3.6
	LatencyMax  float64 // milliseconds
	Received    float64
	Sent        float64
	Connections float64
	Outstanding float64
	Zxid        uint64
	Mode        string // leader, follower, observer, standalone, read-only
	NodeCount   float64
	// HasLatency and friends say which optional lines were present, so a
	// missing line is never mistaken for a zero.
	HasLatency, HasReceived, HasSent, HasConnections, HasOutstanding, HasZxid, HasNodeCount bool
	Malformed                                                                               int
}

// ZxidEpoch is the high 32 bits of the zxid: it rises at every election.
func (s Srvr) ZxidEpoch() uint64 { return s.Zxid >> 32 }

// ZxidCounter is the low 32 bits: transactions within the epoch.
func (s Srvr) ZxidCounter() uint64 { return s.Zxid & 0xffffffff }

// ParseSrvr parses `srvr` or `stat`. The Mode line is required: without it the
// reply says nothing about the member's role.
func ParseSrvr(r io.Reader) (Srvr, error) {
	var s Srvr
	text, err := readText(r)
	if err != nil {
		return s, fmt.Errorf("reading srvr: %w", err)
	}
	inClients := false
	hasMode := false
	for text != "" {
		var line string
		line, text, _ = strings.Cut(text, "\n")
		line = strings.TrimRight(line, "\r")
		if inClients {
			// stat's Clients: block runs until an empty line.
			if strings.TrimSpace(line) == "" {
				inClients = false
			}
			continue
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		if strings.HasPrefix(line, "READ-ONLY mode") {
			// "READ-ONLY mode; serving only read-only clients": the Mode
			// line says read-only too.
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			s.Malformed++
			continue
		}
		value = strings.TrimSpace(value)
		var err error
		switch key {
		case "Zookeeper version":
			s.Version = value
		case "Clients":
			inClients = true
		case "Latency min/avg/max":
			err = parseTriple(value, &s.LatencyMin, &s.LatencyAvg, &s.LatencyMax)
			s.HasLatency = err == nil
		case "Received":
			s.Received, err = parseCount(value)
			s.HasReceived = err == nil
		case "Sent":
			s.Sent, err = parseCount(value)
			s.HasSent = err == nil
		case "Connections":
			s.Connections, err = parseCount(value)
			s.HasConnections = err == nil
		case "Outstanding":
			s.Outstanding, err = parseCount(value)
			s.HasOutstanding = err == nil
		case "Zxid":
			s.Zxid, err = ParseZxid(value)
			s.HasZxid = err == nil
		case "Mode":
			s.Mode = value
			hasMode = value != ""
		case "Node count":
			s.NodeCount, err = parseCount(value)
			s.HasNodeCount = err == nil
		case "Proposal sizes last/min/max":
			// Leader only; mntr has the same values with better names.
		default:
			// Unknown lines from newer versions are not malformed.
		}
		if err != nil {
			s.Malformed++
		}
	}
	// Both marks, as every version from 3.3 writes them: random bytes
	// with a "Mode:" somewhere are not a srvr reply.
	if !hasMode {
		return s, errors.New("srvr: no Mode line")
	}
	if s.Version == "" {
		return s, errors.New("srvr: no Zookeeper version line")
	}
	return s, nil
}

// ParseZxid parses a zxid as srvr prints it ("0x100000060").
func ParseZxid(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	hex, ok := strings.CutPrefix(s, "0x")
	if !ok {
		return 0, fmt.Errorf("zxid %q: no 0x prefix", s)
	}
	return strconv.ParseUint(hex, 16, 64)
}

// maxCount bounds what srvr's counts (Java longs) may be: above 2^53 a
// float64 no longer holds every whole number, and no server counts that far.
const maxCount = 1 << 53

// parseNumber parses a finite, non-negative number (a latency: 3.6+ prints
// the average with decimals). ParseFloat alone takes NaN, Inf and -1, which
// no ZooKeeper prints: such a value is malformed, never a number.
func parseNumber(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(v) || v < 0 || v > maxCount {
		return 0, fmt.Errorf("%q: not a finite number of at least 0", s)
	}
	return v, nil
}

// parseCount parses a count: a whole number from 0 to maxCount.
func parseCount(s string) (float64, error) {
	v, err := parseNumber(s)
	if err == nil && v != math.Trunc(v) {
		return 0, fmt.Errorf("%q: not a whole number", s)
	}
	return v, err
}

// parseTriple parses min/avg/max. All three or none: one bad value makes
// the line malformed.
func parseTriple(s string, a, b, c *float64) error {
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return fmt.Errorf("%q: want three values separated by /", s)
	}
	var v [3]float64
	var err error
	for i := range v {
		if v[i], err = parseNumber(parts[i]); err != nil {
			return err
		}
	}
	*a, *b, *c = v[0], v[1], v[2]
	return nil
}
