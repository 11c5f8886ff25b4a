package fourletter

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Mntr is a parsed `mntr` reply: the string fields ZooKeeper always sends and
// every numeric sample in the order received.
type Mntr struct {
	Version     string // zk_version, whole (e.g. "3.8.0-..., built on ...")
	ServerState string // zk_server_state: leader, follower, observer, standalone, read-only
	Samples     []Sample
	// Malformed counts lines that were skipped: no separator, a bad label
	// block, a value that is not a number, or a key seen before.
	Malformed int
}

// Sample is one numeric mntr line. Key keeps ZooKeeper's spelling without the
// "zk_" prefix; Labels holds a `{k="v",...}` block when the server sends one
// (3.6+ with the Prometheus metrics provider).
type Sample struct {
	Key    string
	Labels []Label
	Value  float64
}

// Label is one name/value pair of a labelled mntr key.
type Label struct {
	Name, Value string
}

// Value returns the first sample with key and no labels.
func (m Mntr) Value(key string) (float64, bool) {
	for _, s := range m.Samples {
		if s.Key == key && len(s.Labels) == 0 {
			return s.Value, true
		}
	}
	return 0, false
}

// ParseMntr parses a `mntr` reply line by line. A malformed line is skipped
// and counted; only a reply with no usable line at all is an error.
func ParseMntr(r io.Reader) (Mntr, error) {
	text, err := readText(r)
	if err != nil {
		return Mntr{}, fmt.Errorf("reading mntr: %w", err)
	}
	return parseMntrText(text)
}

// parseMntrText is ParseMntr of a reply read whole.
func parseMntrText(text string) (Mntr, error) {
	// One pass over one string: keys are cut from the reply and interned
	// (mntrNames), so a 550-line leader reply costs a handful of
	// allocations, not one a line, and keeps nothing of the text.
	m := Mntr{Samples: make([]Sample, 0, strings.Count(text, "\n")+1)}
	seen := make(map[string]struct{}, cap(m.Samples))
	lines := 0
	for text != "" {
		var line string
		line, text, _ = strings.Cut(text, "\n")
		line = strings.TrimSuffix(line, "\r")
		if isBlank(line) {
			continue
		}
		lines++
		rawKey, value, ok := cutMntrLine(line)
		if !ok || !strings.HasPrefix(rawKey, "zk_") {
			m.Malformed++
			continue
		}
		rawKey = rawKey[len("zk_"):]
		if _, dup := seen[rawKey]; dup {
			m.Malformed++
			continue
		}
		seen[rawKey] = struct{}{}
		switch rawKey {
		case "version":
			m.Version = strings.Clone(value)
			continue
		case "server_state":
			m.ServerState = strings.Clone(value)
			continue
		case "peer_state":
			// "following - broadcast" (3.6+): the state says as much.
			continue
		}
		key, labels, ok := splitLabels(rawKey)
		if !ok || !validKey(key) {
			m.Malformed++
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			m.Malformed++
			continue
		}
		m.Samples = append(m.Samples, Sample{Key: mntrNames.get(key), Labels: labels, Value: v})
	}
	// Every version's mntr starts with zk_version and zk_server_state:
	// lines that merely look like zk_ keys are not a reply without them.
	if m.ServerState == "" && m.Version == "" {
		if lines == 0 {
			return m, ErrEmptyResponse
		}
		return m, fmt.Errorf("mntr: no zk_version or zk_server_state among %d lines: not a mntr reply", lines)
	}
	return m, nil
}

func isBlank(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && s[i] != '\t' && s[i] != '\r' {
			return false
		}
	}
	return true
}

// cutMntrLine splits "key<TAB>value". The separator is a tab; a space is
// accepted when there is no tab, outside a label block, so that hand-typed
// replies still parse.
func cutMntrLine(line string) (key, value string, ok bool) {
	if k, v, found := strings.Cut(line, "\t"); found {
		return strings.TrimSpace(k), strings.TrimSpace(v), k != ""
	}
	depth := 0
	for i, c := range line {
		switch c {
		case '{':
			depth++
		case '}':
			depth--
		case ' ':
			if depth == 0 {
				return line[:i], strings.TrimSpace(line[i+1:]), i > 0
			}
		}
	}
	return "", "", false
}

// splitLabels parses `name{a="x",b="y"}` into the name and its labels.
func splitLabels(s string) (string, []Label, bool) {
	open := strings.IndexByte(s, '{')
	if open < 0 {
		return s, nil, true
	}
	if !strings.HasSuffix(s, "}") {
		return "", nil, false
	}
	name, body := s[:open], s[open+1:len(s)-1]
	var labels []Label
	for body != "" {
		eq := strings.IndexByte(body, '=')
		if eq <= 0 || eq+1 >= len(body) || body[eq+1] != '"' {
			return "", nil, false
		}
		lname := strings.TrimSpace(body[:eq])
		if !validKey(lname) || lname[0] >= '0' && lname[0] <= '9' {
			return "", nil, false
		}
		// Find the closing quote, honouring backslash escapes.
		rest := body[eq+2:]
		var val strings.Builder
		end := -1
		for i := 0; i < len(rest); i++ {
			if rest[i] == '\\' && i+1 < len(rest) {
				i++
				switch rest[i] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(rest[i])
				}
				continue
			}
			if rest[i] == '"' {
				end = i
				break
			}
			val.WriteByte(rest[i])
		}
		if end < 0 {
			return "", nil, false
		}
		labels = append(labels, Label{Name: mntrNames.get(lname), Value: val.String()})
		body = strings.TrimPrefix(strings.TrimSpace(rest[end+1:]), ",")
		body = strings.TrimSpace(body)
	}
	return name, labels, true
}

// validKey accepts what can become part of a Prometheus metric or label name.
func validKey(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
