package config

import (
	"fmt"
	"regexp"
	"sync"
)

// Passthrough chooses what an ensemble exposes beyond the ensemble metrics
// and the curated per-member set: every other numeric mntr key (the
// default), none, or the keys the patterns select. A 3.6+ member answers
// about 400 mntr keys, most of them summaries that users of ZooKeeper's
// own Prometheus provider already have.
type Passthrough struct {
	// Enabled: nil or true, the passthrough; false, none of it.
	Enabled *bool `yaml:"enabled"`
	// Include and Exclude are regular expressions, anchored at both ends,
	// over mntr keys without their zk_ prefix (a summary's keys
	// zk_{avg,min,max,cnt,sum,p50,p95,p99,p999}_X as X). A key passes
	// when it matches an include (or none is given) and no exclude.
	Include []string `yaml:"include"`
	Exclude []string `yaml:"exclude"`

	filter *KeyFilter
}

// Off says the passthrough is left out.
func (p *Passthrough) Off() bool { return p != nil && p.Enabled != nil && !*p.Enabled }

// Filter is the compiled key filter (nil: every key); set by Compile.
func (p *Passthrough) Filter() *KeyFilter {
	if p == nil {
		return nil
	}
	return p.filter
}

// Compile checks and compiles the patterns; an error names the pattern
// (passthrough.include[1]) and why it does not compile.
func (p *Passthrough) Compile() error {
	if p == nil {
		return nil
	}
	f, err := NewKeyFilter("passthrough.", p.Include, p.Exclude)
	if err != nil {
		return err
	}
	p.filter = f
	return nil
}

// KeyFilter selects passthrough keys by anchored regular expressions. It
// remembers its answers (ZooKeeper sends the same few hundred keys every
// scrape), up to maxFilterAnswers keys, then answers without remembering:
// a member sending fresh keys cannot grow it.
type KeyFilter struct {
	include, exclude []*regexp.Regexp

	mu      sync.RWMutex
	answers map[string]bool
}

const maxFilterAnswers = 4096

// NewKeyFilter compiles include and exclude patterns (nil when there are
// none: every key passes). prefix starts the name of a pattern in errors.
func NewKeyFilter(prefix string, include, exclude []string) (*KeyFilter, error) {
	if len(include) == 0 && len(exclude) == 0 {
		return nil, nil
	}
	f := &KeyFilter{answers: map[string]bool{}}
	var err error
	if f.include, err = compileAnchored(prefix+"include", include); err != nil {
		return nil, err
	}
	if f.exclude, err = compileAnchored(prefix+"exclude", exclude); err != nil {
		return nil, err
	}
	return f, nil
}

func compileAnchored(what string, patterns []string) ([]*regexp.Regexp, error) {
	out := make([]*regexp.Regexp, 0, len(patterns))
	for i, p := range patterns {
		re, err := regexp.Compile("^(?:" + p + ")$")
		if err != nil {
			return nil, fmt.Errorf("%s[%d] %q: %w", what, i, p, err)
		}
		out = append(out, re)
	}
	return out, nil
}

// Keep says whether the key passes; a nil filter keeps every key.
func (f *KeyFilter) Keep(key string) bool {
	if f == nil {
		return true
	}
	f.mu.RLock()
	keep, ok := f.answers[key]
	f.mu.RUnlock()
	if ok {
		return keep
	}
	keep = f.match(key)
	f.mu.Lock()
	if len(f.answers) < maxFilterAnswers {
		// A clone: the key is a substring of a reply.
		f.answers[string([]byte(key))] = keep
	}
	f.mu.Unlock()
	return keep
}

func (f *KeyFilter) match(key string) bool {
	in := len(f.include) == 0
	for _, re := range f.include {
		if re.MatchString(key) {
			in = true
			break
		}
	}
	if !in {
		return false
	}
	for _, re := range f.exclude {
		if re.MatchString(key) {
			return false
		}
	}
	return true
}
