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
// time. One is built in main and lives as long as the exporter.
//
// It is bounded by entries and by bytes, and forgets what is not used: it
// keeps two generations; lookups promote from the old one, and when the
// current one is full the old one is dropped and the current one becomes
// old. A member sending fresh names every scrape thus costs at most two
// generations, and the memory comes back once it stops. A nil *Names
// caches nothing (the fuzz test wants each input to run the same code
// whatever came before).
type Names struct {
	mu         sync.RWMutex
	maxEntries int // per generation
	maxBytes   int // per generation
	cur, old   *generation
	logged     map[dropKey]int // see changed
}

type generation struct {
	specs map[string]passthroughSpec
	descs map[string][]descVariant
	n     int
	bytes int
}

func newGeneration() *generation {
	return &generation{specs: map[string]passthroughSpec{}, descs: map[string][]descVariant{}}
}

// DefaultMaxNames bounds a Names: specs and descriptors together, over
// both generations. A 3.9 leader's mntr needs about a thousand.
const DefaultMaxNames = 40000

// DefaultMaxNameBytes bounds the bytes a Names holds over both
// generations (names, help and label names, twice for a descriptor, which
// keeps its own copies, and a fixed overhead an entry).
const DefaultMaxNameBytes = 32 << 20

// NewNames returns a cache that keeps at most max entries (0: the default)
// and DefaultMaxNameBytes.
func NewNames(max int) *Names { return NewNamesBytes(max, 0) }

// NewNamesBytes is NewNames with a bound in bytes too (0: the default).
func NewNamesBytes(max, maxBytes int) *Names {
	if max <= 0 {
		max = DefaultMaxNames
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxNameBytes
	}
	return &Names{maxEntries: max / 2, maxBytes: maxBytes / 2, cur: newGeneration(), old: newGeneration(), logged: map[dropKey]int{}}
}

// entryOverhead is what a cached entry costs beyond its strings: map
// slots, the spec or descriptor structs.
const entryOverhead = 256

// Bytes is the memory the cache accounts for, both generations.
func (n *Names) Bytes() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.cur.bytes + n.old.bytes
}

// roomFor rotates the generations when the current one cannot take size
// more bytes. Called with mu held.
func (n *Names) roomFor(size int) {
	if n.cur.n+1 > n.maxEntries || n.cur.bytes+size > n.maxBytes {
		n.old, n.cur = n.cur, newGeneration()
	}
}

func (n *Names) spec(key string) (passthroughSpec, bool) {
	if n == nil {
		return passthroughSpec{}, false
	}
	// The hot path, every key of every member every scrape: a read lock.
	n.mu.RLock()
	s, ok := n.cur.specs[key]
	n.mu.RUnlock()
	if ok {
		return s, true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if s, ok := n.cur.specs[key]; ok {
		return s, true
	}
	if s, ok := n.old.specs[key]; ok {
		n.putSpec(key, s) // still in use: keep it through the next rotation
		return s, true
	}
	return passthroughSpec{}, false
}

func (n *Names) keepSpec(key string, spec passthroughSpec) {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.cur.specs[key]; !ok {
		n.putSpec(key, spec)
	}
}

// putSpec stores with mu held. Clones: the key is a substring of a reply,
// which must not be kept alive by the cache.
func (n *Names) putSpec(key string, spec passthroughSpec) {
	size := len(key) + len(spec.name) + len(spec.help) + len(spec.maxName) + len(spec.maxHelp) + entryOverhead
	n.roomFor(size)
	n.cur.specs[strings.Clone(key)] = spec
	n.cur.n++
	n.cur.bytes += size
}

type descVariant struct {
	help       string
	labelNames []string
	desc       *prometheus.Desc
}

// desc returns the descriptor of a passthrough name. A name has one
// variant per help text and label set (normally one).
func (n *Names) desc(name, help string, labelNames []string) *prometheus.Desc {
	if n == nil {
		return prometheus.NewDesc(name, help, labelNames, nil)
	}
	n.mu.RLock()
	for _, dv := range n.cur.descs[name] {
		if dv.help == help && slices.Equal(dv.labelNames, labelNames) {
			n.mu.RUnlock()
			return dv.desc
		}
	}
	n.mu.RUnlock()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, dv := range n.cur.descs[name] {
		if dv.help == help && slices.Equal(dv.labelNames, labelNames) {
			return dv.desc
		}
	}
	var d *prometheus.Desc
	for _, dv := range n.old.descs[name] {
		if dv.help == help && slices.Equal(dv.labelNames, labelNames) {
			d = dv.desc
		}
	}
	if d == nil {
		d = prometheus.NewDesc(name, help, labelNames, nil)
	}
	size := 2*(len(name)+len(help)) + entryOverhead
	labels := make([]string, len(labelNames))
	for i, l := range labelNames {
		// Clones: names and label names may be substrings of a reply.
		labels[i] = strings.Clone(l)
		size += 2 * len(l)
	}
	n.roomFor(size)
	key := strings.Clone(name)
	n.cur.descs[key] = append(n.cur.descs[key], descVariant{help: strings.Clone(help), labelNames: labels, desc: d})
	n.cur.n++
	n.cur.bytes += size
	return d
}

// dropKey names what a warning about dropped series is about.
type dropKey struct{ ensemble, server, reason string }

// maxLogged bounds the record of warnings logged; past it the record
// starts afresh (each warning then once more).
const maxLogged = 4096

// changed records count for a member and reason and says whether it
// differs from the count last recorded: a warning is logged once, not
// every scrape, and again when the count changes (0, a member that stopped
// dropping, is a change: see settle).
func (n *Names) changed(k dropKey, count int) bool {
	if n == nil {
		return true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if last, ok := n.logged[k]; ok && last == count {
		return false
	}
	if len(n.logged) >= maxLogged {
		clear(n.logged)
	}
	n.logged[dropKey{strings.Clone(k.ensemble), strings.Clone(k.server), k.reason}] = count
	return true
}

// settle forgets a member's reason that dropped nothing this scrape, so
// that its next drops are logged. Cheap when there is nothing to forget,
// as for nearly every member on every scrape.
func (n *Names) settle(k dropKey) {
	if n == nil {
		return
	}
	n.mu.RLock()
	_, ok := n.logged[k]
	n.mu.RUnlock()
	if ok {
		n.mu.Lock()
		delete(n.logged, k)
		n.mu.Unlock()
	}
}
