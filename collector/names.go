package collector

import (
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Names remembers what the passthrough derives from mntr keys (names, help,
// units) and the descriptors it builds, so a scrape does not derive again
// what the last one did: ZooKeeper sends the same few hundred keys every
// time. One is built in main and lives as long as the exporter; it is
// bounded, as keys that carry a namespace are unbounded in principle. A nil
// *Names caches nothing (the fuzz test wants each input to run the same
// code whatever came before).
type Names struct {
	mu    sync.RWMutex
	max   int
	n     int
	specs map[string]passthroughSpec
	descs map[string][]descVariant
}

// DefaultMaxNames bounds a Names: specs and descriptors together.
const DefaultMaxNames = 40000

// NewNames returns a cache that keeps at most max entries (0: the default).
func NewNames(max int) *Names {
	if max <= 0 {
		max = DefaultMaxNames
	}
	return &Names{max: max, specs: map[string]passthroughSpec{}, descs: map[string][]descVariant{}}
}

type descVariant struct {
	help       string
	labelNames []string
	desc       *prometheus.Desc
}

func (n *Names) spec(key string) (passthroughSpec, bool) {
	if n == nil {
		return passthroughSpec{}, false
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	s, ok := n.specs[key]
	return s, ok
}

func (n *Names) keepSpec(key string, spec passthroughSpec) {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.specs[key]; !ok && n.n < n.max {
		// Clone: the key is a substring of a reply, which must not be kept
		// alive by the cache.
		n.specs[strings.Clone(key)] = spec
		n.n++
	}
}

// desc returns the descriptor of a passthrough name. A name has one
// variant per help text and label set (normally one).
func (n *Names) desc(name, help string, labelNames []string) *prometheus.Desc {
	if n == nil {
		return prometheus.NewDesc(name, help, labelNames, nil)
	}
	n.mu.RLock()
	for _, dv := range n.descs[name] {
		if dv.help == help && slices.Equal(dv.labelNames, labelNames) {
			n.mu.RUnlock()
			return dv.desc
		}
	}
	n.mu.RUnlock()
	d := prometheus.NewDesc(name, help, labelNames, nil)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.n < n.max {
		// Clones: names and label names may be substrings of a reply.
		labels := make([]string, len(labelNames))
		for i, l := range labelNames {
			labels[i] = strings.Clone(l)
		}
		key := strings.Clone(name)
		n.descs[key] = append(n.descs[key], descVariant{help: strings.Clone(help), labelNames: labels, desc: d})
		n.n++
	}
	return d
}
