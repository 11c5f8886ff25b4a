package ensemble

import (
	"fmt"
	"math/bits"
	"testing"
)

func ids(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}

// twoGroups is group.1=1:2:3, group.2=4:5:6, every weight 1.
var twoGroups = Hierarchical(ids(6), map[int64]int64{1: 1, 2: 1, 3: 1, 4: 2, 5: 2, 6: 2}, nil)

// threeGroups is ZooKeeper's documented example: 3 groups of 3.
var threeGroups = Hierarchical(ids(9), map[int64]int64{1: 1, 2: 1, 3: 1, 4: 2, 5: 2, 6: 2, 7: 3, 8: 3, 9: 3}, nil)

// zeroWeight: group.1=1:2:3:7 with weight.7=0, group.2=4:5:6.
var zeroWeight = Hierarchical(ids(7), map[int64]int64{1: 1, 2: 1, 3: 1, 7: 1, 4: 2, 5: 2, 6: 2}, map[int64]int64{7: 0})

// zeroGroup: a third group whose only voter weighs 0 is left out of the
// majority of groups.
var zeroGroup = Hierarchical(ids(7), map[int64]int64{1: 1, 2: 1, 3: 1, 4: 2, 5: 2, 6: 2, 7: 3}, map[int64]int64{7: 0})

// heavy: group.1=1:2:3 with weight.1=3, group.2=4:5:6.
var heavy = Hierarchical(ids(6), map[int64]int64{1: 1, 2: 1, 3: 1, 4: 2, 5: 2, 6: 2}, map[int64]int64{1: 3})

// Each row computed by hand from ZooKeeper's rules.
func TestRules(t *testing.T) {
	for _, tc := range []struct {
		name      string
		rule      Rule
		up        []int64
		quorum    bool
		breakCost int // fewest losses that break quorum
		restore   int // fewest returns that restore it
		margin    int
	}{
		{"3 voters, all up", Majority(ids(3)), ids(3), true, 2, 0, 1},
		{"3 voters, 2 up", Majority(ids(3)), []int64{1, 2}, true, 1, 0, 0},
		{"3 voters, 1 up", Majority(ids(3)), []int64{1}, false, 0, 1, -1},
		{"3 voters, none up", Majority(ids(3)), nil, false, 0, 2, -2},
		{"5 voters, all up", Majority(ids(5)), ids(5), true, 3, 0, 2},
		{"5 voters, 3 up", Majority(ids(5)), []int64{1, 2, 3}, true, 1, 0, 0},
		{"5 voters, 2 up", Majority(ids(5)), []int64{1, 2}, false, 0, 1, -1},
		{"4 voters, 3 up", Majority(ids(4)), []int64{1, 2, 3}, true, 1, 0, 0},
		{"4 voters, 2 up: a tie is no quorum", Majority(ids(4)), []int64{1, 2}, false, 0, 1, -1},
		{"an unknown id counts for nothing", Majority(ids(3)), []int64{1, 9}, false, 0, 1, -1},
		{"a duplicate counts once", Majority(ids(3)), []int64{1, 1}, false, 0, 1, -1},
		{"1 voter", Majority(ids(1)), ids(1), true, 1, 0, 0},

		// Two groups of 3: both groups need 2 of 3 (more than half of 2
		// groups is 2). Two losses in one group break it.
		{"2x3 all up", twoGroups, ids(6), true, 2, 0, 1},
		{"2x3 one of group 1 down", twoGroups, []int64{2, 3, 4, 5, 6}, true, 1, 0, 0},
		{"2x3 one down in each group", twoGroups, []int64{2, 3, 5, 6}, true, 1, 0, 0},
		{"2x3 two of group 1 down", twoGroups, []int64{3, 4, 5, 6}, false, 0, 1, -1},
		{"2x3 group 2 gone", twoGroups, []int64{1, 2, 3}, false, 0, 2, -2},
		{"2x3 nothing up", twoGroups, nil, false, 0, 4, -4},

		// Three groups of 3: 2 of 3 in 2 of 3 groups.
		{"3x3 all up: break two groups (2+2)", threeGroups, ids(9), true, 4, 0, 3},
		{"3x3 group 3 gone", threeGroups, ids(6), true, 2, 0, 1},
		{"3x3 4 voters in 2 groups", threeGroups, []int64{1, 2, 4, 5}, true, 1, 0, 0},
		{"3x3 one per group", threeGroups, []int64{1, 4, 7}, false, 0, 2, -2},

		// A weight-0 voter counts for nothing: group 1 weighs 3 with four
		// voters, so its weight-0 voter cannot make or break a majority.
		{"zero weight: all up", zeroWeight, ids(7), true, 2, 0, 1},
		{"zero weight: its loss changes nothing", zeroWeight, ids(6), true, 2, 0, 1},
		{"zero weight: 1 and 7 of group 1", zeroWeight, []int64{1, 7, 4, 5, 6}, false, 0, 1, -1},
		{"zero-weight group is not a group: 2x3 rules", zeroGroup, []int64{2, 3, 4, 5, 6}, true, 1, 0, 0},
		{"zero-weight group, all up", zeroGroup, ids(7), true, 2, 0, 1},

		// weight.1=3: group 1 weighs 5, more than half is 3: voter 1 alone
		// holds it, 2 and 3 together do not.
		{"heavy voter alone holds its group", heavy, []int64{1, 4, 5}, true, 1, 0, 0},
		{"without the heavy voter", heavy, []int64{2, 3, 4, 5, 6}, false, 0, 1, -1},
		{"heavy all up: losing voter 1 breaks group 1", heavy, ids(6), true, 1, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.rule
			if got := r.HasQuorum(tc.up); got != tc.quorum {
				t.Errorf("HasQuorum = %v, want %v", got, tc.quorum)
			}
			if got := r.BreakCost(tc.up); got != tc.breakCost {
				t.Errorf("BreakCost = %d, want %d", got, tc.breakCost)
			}
			if got := r.RestoreCost(tc.up); got != tc.restore {
				t.Errorf("RestoreCost = %d, want %d", got, tc.restore)
			}
			if got := r.Margin(tc.up); got != tc.margin {
				t.Errorf("Margin = %d, want %d", got, tc.margin)
			}
		})
	}
}

func TestMinQuorum(t *testing.T) {
	for _, tc := range []struct {
		rule Rule
		want int
	}{
		{Majority(ids(3)), 2}, {Majority(ids(4)), 3}, {Majority(ids(5)), 3}, {Majority(ids(1)), 1},
		{twoGroups, 4}, {threeGroups, 4}, {zeroWeight, 4}, {zeroGroup, 4}, {heavy, 3},
		// Every voter weighs 0: nothing can form a quorum.
		{Hierarchical(ids(2), map[int64]int64{1: 1, 2: 1}, map[int64]int64{1: 0, 2: 0}), -1},
	} {
		if got := tc.rule.MinQuorum(); got != tc.want {
			t.Errorf("%+v: MinQuorum = %d, want %d", tc.rule, got, tc.want)
		}
	}
}

// TestRulesAgainstBruteForce checks the costs against every subset of small
// ensembles: the fewest removals (returns) found by trying them all.
func TestRulesAgainstBruteForce(t *testing.T) {
	for name, r := range map[string]Rule{"majority 5": Majority(ids(5)), "majority 6": Majority(ids(6)),
		"2x3": twoGroups, "3x3": threeGroups, "zero weight": zeroWeight, "zero group": zeroGroup, "heavy": heavy} {
		n := len(r.voters)
		subset := func(mask uint) []int64 {
			var s []int64
			for i := 0; i < n; i++ {
				if mask&(1<<i) != 0 {
					s = append(s, r.voters[i])
				}
			}
			return s
		}
		for mask := uint(0); mask < 1<<n; mask++ {
			up := subset(mask)
			wantBreak, wantRestore := 0, -1
			if r.HasQuorum(up) {
				wantBreak = n + 1
				for sub := mask; ; sub = (sub - 1) & mask {
					if !r.HasQuorum(subset(sub)) {
						wantBreak = min(wantBreak, bits.OnesCount(mask)-bits.OnesCount(sub))
					}
					if sub == 0 {
						break
					}
				}
				wantRestore = 0
			} else {
				for super := uint(0); super < 1<<n; super++ {
					if super&mask == mask && r.HasQuorum(subset(super)) {
						c := bits.OnesCount(super) - bits.OnesCount(mask)
						if wantRestore < 0 || c < wantRestore {
							wantRestore = c
						}
					}
				}
			}
			if got := r.BreakCost(up); got != wantBreak {
				t.Errorf("%s %v: BreakCost %d, brute force %d", name, up, got, wantBreak)
			}
			if got := r.RestoreCost(up); got != wantRestore {
				t.Errorf("%s %v: RestoreCost %d, brute force %d", name, up, got, wantRestore)
			}
		}
	}
}

func TestWorstSubset(t *testing.T) {
	// Of 5 voters up in 2x3 (one of group 1 down), one unknown voter is not
	// synced: the worst is that it is in group 1, which leaves no margin.
	up := []int64{2, 3, 4, 5, 6}
	got := twoGroups.WorstSubset(up, 1)
	if m := twoGroups.Margin(got); m != -1 {
		t.Errorf("worst subset %v has margin %d, want -1 (group 1 broken)", got, m)
	}
	if fmt.Sprint(Majority(ids(3)).WorstSubset([]int64{1, 2, 3}, 1)) == "" {
		t.Error("empty")
	}
	if got := Majority(ids(3)).WorstSubset([]int64{1, 2, 3}, 5); len(got) != 0 {
		t.Errorf("taking more than there is: %v", got)
	}
}
