package collector

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
)

// TestPremapChangesNothing: a scrape whose members were premapped as they
// were heard exposes what Collect exposes without, family for family,
// under each choice; and a member premapped from a reply that is not the
// one its result holds (a poll that went on, a member heard twice) is
// mapped again from the result's, not taken from the premap.
func TestPremapChangesNothing(t *testing.T) {
	recorded := recordedResults(t)
	five := fiveMemberResult(t)
	some := mustFilter(t, []string{"fsynctime", ".*_sessions"}, []string{"local_.*"})
	mixed := []ensemble.Result{five, renamed(five, "b"), renamed(five, "c")}
	// stale: each member of five told with the leader's reply, its
	// result keeping its own.
	stale := func(pre *Premap, results []ensemble.Result) {
		for i, r := range results {
			heard := pre.Heard(i, r.Target.Name)
			if heard == nil {
				continue
			}
			for _, s := range r.Members {
				other := s
				other.Mntr = r.Members[0].Mntr
				heard(other)
			}
		}
	}
	every := func(pre *Premap, results []ensemble.Result) {
		for i, r := range results {
			if heard := pre.Heard(i, r.Target.Name); heard != nil {
				for _, s := range r.Members {
					heard(s)
				}
			}
		}
	}
	some2 := func(pre *Premap, results []ensemble.Result) { // every other member only
		for i, r := range results {
			if heard := pre.Heard(i, r.Target.Name); heard != nil {
				for k, s := range r.Members {
					if k%2 == 0 {
						heard(s)
					}
				}
			}
		}
	}
	for _, tc := range []struct {
		name    string
		results []ensemble.Result
		choices []Choice
		tell    func(*Premap, []ensemble.Result)
	}{
		{"every recording, every member heard", recorded, nil, every},
		{"every recording, half heard", recorded, nil, some2},
		{"every recording, include and exclude", recorded, repeatChoice(len(recorded), Choice{Keys: some}), every},
		{"mixed choices", mixed, []Choice{{}, {NoPassthrough: true}, {Keys: some}}, every},
		{"heard with another reply than the result's", mixed, nil, stale},
		{"a hostile member", []ensemble.Result{hostileResult(t)}, nil, every},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := slices.Collect(Collect(tc.results, tc.choices, NewNames(0), Limits{}, nil, nil).Families(false))
			pre := NewPremap(tc.choices, NewNames(0), Limits{})
			tc.tell(pre, tc.results)
			got := slices.Collect(CollectPremapped(tc.results, pre, nil, nil).Families(false))
			if len(got) != len(want) {
				t.Fatalf("%d families, without the premap %d", len(got), len(want))
			}
			for i := range want {
				if !proto.Equal(got[i], want[i]) {
					t.Fatalf("family %s differs:\n got %v\nwant %v", want[i].GetName(), short(got[i]), short(want[i]))
				}
			}
			// What was heard after Collect began is not mapped.
			tc.tell(pre, tc.results)
			if n := len(pre.queue) + len(pre.mapped); n != 0 || pre.running != 0 {
				t.Errorf("after Collect: %d queued or mapped, %d workers", n, pre.running)
			}
		})
	}
}

// TestPremapMapsWhatItIsTold: the members told are mapped before Collect,
// each from the reply it was told of; the down and the NoPassthrough
// ones are not.
func TestPremapMapsWhatItIsTold(t *testing.T) {
	five := fiveMemberResult(t)
	pre := NewPremap([]Choice{{}, {NoPassthrough: true}}, NewNames(0), Limits{})
	if pre.Heard(1, "b") != nil {
		t.Error("a target without passthrough gets a callback")
	}
	heard := pre.Heard(0, five.Target.Name)
	down := five.Members[1]
	down.Up = false
	heard(down)
	for _, s := range five.Members[2:] {
		heard(s)
	}
	mapped := pre.finish()
	if len(mapped) != len(five.Members)-2 {
		t.Fatalf("%d members mapped, want %d", len(mapped), len(five.Members)-2)
	}
	for _, s := range five.Members[2:] {
		m, ok := mapped[premapKey{0, s.Member.Address}]
		if !ok || m.mntr != s.Mntr || len(m.member.metrics) == 0 || m.member.server != s.Member.Address {
			t.Errorf("member %s: mapped %v, from its reply %v, %d metrics", s.Member.Address, ok, m.mntr == s.Mntr, len(m.member.metrics))
		}
	}
	if again := pre.finish(); len(again) != 0 {
		t.Errorf("the members handed over twice: %d", len(again))
	}
}
