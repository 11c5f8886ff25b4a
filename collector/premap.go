package collector

import (
	"runtime"
	"sync"

	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
)

// Premap maps the members' mntr of one scrape as their polls end, while
// the scrape waits for the other members: the CPU is idle then, and the
// mapping is the largest share of Collect's own work (docs/performance.md).
// Collect uses a member's premapped metrics only when they come from the
// very reply its result holds, and maps the others itself, so what a
// scrape exposes does not depend on what was premapped.
type Premap struct {
	choices []Choice
	names   *Names
	limits  Limits // as given, for Collect
	lim     Limits // with the defaults, for the mapping
	workers int

	mu      sync.Mutex
	queue   []premapJob
	running int
	closed  bool
	idle    sync.WaitGroup // the running workers
	comps   []*compactor   // the idle workers' compactors, reused
	mapped  map[premapKey]premapped
}

type premapKey struct {
	target int
	server string
}

type premapJob struct {
	key      premapKey
	ensemble string
	mntr     *fourletter.Mntr
}

type premapped struct {
	ensemble string
	mntr     *fourletter.Mntr // the reply it was mapped from
	member   passMember
}

// NewPremap is a Premap for the targets of one scrape: choices[i] is what
// target i exposes, as for Collect.
func NewPremap(choices []Choice, names *Names, limits Limits) *Premap {
	return &Premap{choices: choices, names: names, limits: limits, lim: limits.withDefaults(), workers: runtime.GOMAXPROCS(0), mapped: map[premapKey]premapped{}}
}

// Heard is the callback for target i's poll (ensemble.Poller.PollTelling):
// it queues each member that answered mntr for mapping and returns at
// once. A member heard after Collect began is left to Collect.
func (p *Premap) Heard(target int, ensembleName string) func(ensemble.MemberSnapshot) {
	if target < len(p.choices) && p.choices[target].NoPassthrough {
		return nil
	}
	return func(s ensemble.MemberSnapshot) {
		if !s.Up || s.Mntr == nil {
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.closed {
			return
		}
		p.queue = append(p.queue, premapJob{premapKey{target, s.Member.Address}, ensembleName, s.Mntr})
		if p.running < p.workers {
			// Workers start as there is work and stop when there is
			// none: a scrape waiting on a hung member keeps none.
			p.running++
			p.idle.Add(1)
			var comp *compactor
			if n := len(p.comps); n > 0 {
				comp, p.comps = p.comps[n-1], p.comps[:n-1]
			} else {
				comp = &compactor{}
			}
			go p.work(comp)
		}
	}
}

// work maps queued members until the queue is empty. Each worker interns
// specs in its own compactor, kept for the next worker: a scrape interns
// its specs at most once per CPU, not once per worker started.
func (p *Premap) work(comp *compactor) {
	defer p.idle.Done()
	for {
		p.mu.Lock()
		if len(p.queue) == 0 {
			p.running--
			p.comps = append(p.comps, comp)
			p.mu.Unlock()
			return
		}
		j := p.queue[0]
		p.queue[0] = premapJob{} // the reply is the scrape's to let go (release)
		p.queue = p.queue[1:]
		p.mu.Unlock()
		var keys KeyFilter
		if j.key.target < len(p.choices) {
			keys = p.choices[j.key.target].Keys
		}
		pm := comp.compact(j.ensemble, j.key.server, p.names.mapMntrKeys(j.mntr, p.lim, keys))
		p.mu.Lock()
		p.mapped[j.key] = premapped{j.ensemble, j.mntr, pm}
		p.mu.Unlock()
	}
}

// finish stops the premapping (what is queued is still mapped, what is
// heard from now on is not), waits for the workers and hands over what
// they mapped: the Premap keeps none of it, so a poll that carries on for
// a hung member holds only the Heard callback. nil: nothing.
func (p *Premap) finish() map[premapKey]premapped {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.idle.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	mapped := p.mapped
	p.mapped, p.queue = nil, nil
	return mapped
}
