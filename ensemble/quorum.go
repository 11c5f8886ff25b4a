package ensemble

import (
	"slices"
	"sort"
)

// Rule is ZooKeeper's own quorum rule for one membership: a simple majority
// of the voters (QuorumMaj), or, when the configuration has group.N and
// weight.N lines, a majority of the groups that each hold more than half of
// their group's weight (QuorumHierarchical). Sets of voters are given as
// server ids.
type Rule struct {
	hierarchical bool
	voters       []int64 // every voter's id, as configured
	group        map[int64]int64
	weight       map[int64]int64
	groupWeight  map[int64]int64
	// groups counts the groups of non-zero weight: ZooKeeper leaves the
	// others out of the majority of groups.
	groups int
}

// Majority is the rule of a plain ensemble with these voters.
func Majority(voters []int64) Rule {
	return Rule{voters: slices.Clone(voters)}
}

// Hierarchical is the rule of an ensemble with groups and weights. A voter
// with no weight line weighs 1 (as in ZooKeeper); a voter in no group
// counts for nothing.
func Hierarchical(voters []int64, group, weight map[int64]int64) Rule {
	r := Rule{hierarchical: true, voters: slices.Clone(voters), group: map[int64]int64{}, weight: map[int64]int64{}, groupWeight: map[int64]int64{}}
	for _, id := range voters {
		w, ok := weight[id]
		if !ok {
			w = 1
		}
		r.weight[id] = w
		if g, ok := group[id]; ok {
			r.group[id] = g
			r.groupWeight[g] += w
		}
	}
	for _, w := range r.groupWeight {
		if w > 0 {
			r.groups++
		}
	}
	return r
}

// IsHierarchical says which of ZooKeeper's two rules this is.
func (r Rule) IsHierarchical() bool { return r.hierarchical }

// Voters is the number of voting members.
func (r Rule) Voters() int { return len(r.voters) }

// Counts says whether a voter's presence can matter to quorum at all: a
// weight-0 voter, or one in no group, never does.
func (r Rule) Counts(id int64) bool {
	if !r.hierarchical {
		return slices.Contains(r.voters, id)
	}
	_, grouped := r.group[id]
	return grouped && r.weight[id] > 0
}

// set keeps the voters of up, once each.
func (r Rule) set(up []int64) map[int64]bool {
	s := make(map[int64]bool, len(up))
	for _, id := range up {
		if slices.Contains(r.voters, id) {
			s[id] = true
		}
	}
	return s
}

// HasQuorum says whether the voters in up form a quorum.
func (r Rule) HasQuorum(up []int64) bool {
	s := r.set(up)
	if !r.hierarchical {
		return len(s) > len(r.voters)/2
	}
	return r.majorityGroups(s) > r.groups/2
}

func (r Rule) groupSums(s map[int64]bool) map[int64]int64 {
	sums := map[int64]int64{}
	for id := range s {
		if g, ok := r.group[id]; ok {
			sums[g] += r.weight[id]
		}
	}
	return sums
}

// majorityGroups counts the groups in which s holds more than half of the
// weight (ZooKeeper's integer division included).
func (r Rule) majorityGroups(s map[int64]bool) int {
	n := 0
	for g, sum := range r.groupSums(s) {
		if sum > r.groupWeight[g]/2 {
			n++
		}
	}
	return n
}

// MinQuorum is the fewest voters that can form a quorum: the quorum size
// of a majority ensemble. -1 when no set of voters can.
func (r Rule) MinQuorum() int { return r.RestoreCost(nil) }

// BreakCost is the fewest voters of up whose loss breaks the quorum that up
// holds; 0 when up holds none.
func (r Rule) BreakCost(up []int64) int {
	s := r.set(up)
	if !r.HasQuorum(up) {
		return 0
	}
	if !r.hierarchical {
		return len(s) - len(r.voters)/2
	}
	// Break enough majority groups, the cheapest first; within a group,
	// the heaviest voters first.
	var costs []int
	for g, sum := range r.groupSums(s) {
		half := r.groupWeight[g] / 2
		if sum <= half {
			continue
		}
		var ws []int64
		for id := range s {
			if gid, ok := r.group[id]; ok && gid == g {
				ws = append(ws, r.weight[id])
			}
		}
		costs = append(costs, takeUntil(ws, sum, func(v int64) bool { return v <= half }, -1))
	}
	sort.Ints(costs)
	need := len(costs) - r.groups/2
	total := 0
	for _, c := range costs[:need] {
		total += c
	}
	return total
}

// RestoreCost is the fewest voters outside up whose return gives a quorum;
// 0 when up holds one, -1 when even every voter together cannot.
func (r Rule) RestoreCost(up []int64) int {
	s := r.set(up)
	if r.HasQuorum(up) {
		return 0
	}
	if !r.hierarchical {
		return len(r.voters)/2 + 1 - len(s)
	}
	sums := r.groupSums(s)
	var costs []int
	have := 0
	for g, gw := range r.groupWeight {
		if gw == 0 {
			continue
		}
		half := gw / 2
		if sums[g] > half {
			have++
			continue
		}
		var ws []int64
		for _, id := range r.voters {
			if gid, ok := r.group[id]; ok && gid == g && !s[id] {
				ws = append(ws, r.weight[id])
			}
		}
		// Count the heaviest absentees back until past half.
		c := takeUntil(ws, sums[g], func(v int64) bool { return v > half }, +1)
		if c >= 0 {
			costs = append(costs, c)
		}
	}
	sort.Ints(costs)
	need := r.groups/2 + 1 - have
	if need > len(costs) {
		return -1
	}
	total := 0
	for _, c := range costs[:need] {
		total += c
	}
	return total
}

// takeUntil adds (sign +1) or takes off (sign -1) the weights, heaviest
// first, from start until done holds, and returns how many it needed, -1 if
// done never holds.
func takeUntil(ws []int64, start int64, done func(int64) bool, sign int64) int {
	sort.Slice(ws, func(i, j int) bool { return ws[i] > ws[j] })
	v := start
	for i, w := range ws {
		if done(v) {
			return i
		}
		v += sign * w
	}
	if done(v) {
		return len(ws)
	}
	return -1
}

// Margin is how many more voter failures up survives (BreakCost - 1) when
// it holds a quorum, else minus the voters it lacks (-RestoreCost; minus
// every voter when even all together would not do). For a majority it is
// simply |up| - quorum size.
func (r Rule) Margin(up []int64) int {
	if r.HasQuorum(up) {
		return r.BreakCost(up) - 1
	}
	c := r.RestoreCost(up)
	if c < 0 {
		return -len(r.voters)
	}
	return -c
}

// WorstSubset takes n voters off up, each time the one whose loss hurts the
// most: which voters a count (the leader's synced count) leaves out is not
// known, so safety answers assume the worst ones.
func (r Rule) WorstSubset(up []int64, n int) []int64 {
	out := slices.Clone(up)
	for ; n > 0 && len(out) > 0; n-- {
		best, bestMargin := 0, 0
		for i := range out {
			rest := slices.Delete(slices.Clone(out), i, i+1)
			if m := r.Margin(rest); i == 0 || m < bestMargin {
				best, bestMargin = i, m
			}
		}
		out = slices.Delete(out, best, best+1)
	}
	return out
}
