package status

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
)

// Step is one member's place in a rolling restart.
type Step struct {
	Position int    `json:"position"`
	Server   string `json:"server"` // as configured, host:port
	Role     string `json:"role"`   // voter or observer, the ensemble's word
	State    string `json:"state"`
	Down     string `json:"down_reason,omitempty"`
	// Why says why the member is at this position.
	Why string `json:"reason"`
	// SafeToStop and StopReason are status --member's answer now.
	SafeToStop bool   `json:"safe_to_stop_now"`
	StopReason string `json:"safe_to_stop_reason"`
}

// Plan is the restart order of one ensemble: observers first (they do not
// vote), then followers, the leader last, so the ensemble holds one
// election instead of one per restarted leader.
type Plan struct {
	Name         string   `json:"ensemble"`
	RestartOrder []string `json:"restart_order"`
	Steps        []Step   `json:"steps"`
	// FirstStepMustWait: the first member may not be stopped now; Wait says
	// why and what to do.
	FirstStepMustWait bool     `json:"first_step_must_wait"`
	Wait              string   `json:"wait_reason,omitempty"`
	Unwatched         []string `json:"unwatched_servers,omitempty"`
	Verdict           string   `json:"verdict"`
	Exit              int      `json:"exit_status"`
}

// PlanOf orders the members of one poll for a rolling restart. Every
// member is placed, whether it may be stopped now or not: the plan is the
// order, --member (and --wait between steps) say when.
func PlanOf(r ensemble.Result) Plan {
	v := r.View
	rep := Report(r)
	type placed struct {
		i, rank int
		why     string
	}
	var order []placed
	for i, s := range r.Members {
		p := placed{i: i}
		state := "not serving"
		if !s.Up {
			state = "down (" + ensemble.DownReason(s.Err) + ")"
		}
		switch {
		case v.Roles[i] == ensemble.RoleObserver && !s.Serving:
			p.rank, p.why = 0, "observer, now "+state+": it does not vote, restarting it costs nothing"
		case v.Roles[i] == ensemble.RoleObserver:
			p.rank, p.why = 1, "observer: it does not vote, so its restart costs no quorum and no election"
		case !s.Serving:
			// Already out: bringing it back first restores the failure
			// tolerance the other restarts need.
			p.rank, p.why = 2, "voter, now "+state+": start it before any other voter goes down"
		case i == v.Leader:
			p.rank, p.why = 5, "leader: last, so the ensemble holds one election, not one per restart"
		case s.State == ensemble.StateStandalone:
			p.rank, p.why = 5, "standalone: the only server, its restart stops the service while it lasts"
		case s.State == ensemble.StateLeader:
			p.rank, p.why = 4, fmt.Sprintf("reports leader beside %s (a split view): after the followers", r.Members[v.Leader].Member.Address)
		default:
			p.rank, p.why = 3, "follower: the leader stays in place while it restarts (no election)"
		}
		order = append(order, p)
	}
	sort.SliceStable(order, func(a, b int) bool { return order[a].rank < order[b].rank })
	plan := Plan{Name: r.Target.Name, Unwatched: rep.Unwatched, Verdict: rep.Verdict}
	for n, p := range order {
		m := rep.Members[p.i]
		plan.RestartOrder = append(plan.RestartOrder, m.Server)
		plan.Steps = append(plan.Steps, Step{Position: n + 1, Server: m.Server, Role: m.Role, State: m.State, Down: m.Down, Why: p.why,
			SafeToStop: m.SafeToStop, StopReason: m.Why})
	}
	switch {
	case len(plan.Steps) == 0:
		plan.FirstStepMustWait, plan.Wait = true, "no member is configured"
	case !plan.Steps[0].SafeToStop:
		first := plan.Steps[0]
		plan.FirstStepMustWait = true
		plan.Wait = fmt.Sprintf("the first step must wait: %s may not be stopped now: %s; run status --wait until the ensemble is whole", first.Server, first.StopReason)
	}
	switch {
	case !v.Quorum:
		plan.Exit = Lost
	case plan.FirstStepMustWait:
		plan.Exit = AtRisk
	default:
		plan.Exit = Healthy
	}
	return plan
}

// WorstPlan is the highest exit status of the plans: 0 the first step may
// go now, 1 it must wait, 2 quorum lost.
func WorstPlan(plans []Plan) int {
	worst := Healthy
	for _, p := range plans {
		worst = max(worst, p.Exit)
	}
	return worst
}

// WritePlanTable prints the plans for a terminal, within 80 columns.
func WritePlanTable(w io.Writer, plans []Plan) error {
	for i, p := range plans {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "ensemble %s: restart order (observers, then followers, the leader last)\n", p.Name)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "STEP\tMEMBER\tROLE\tSTATE\tSTOP NOW")
		for _, s := range p.Steps {
			state := strings.ReplaceAll(s.State, "_", " ")
			if s.Down != "" {
				state = "down: " + s.Down
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", s.Position, s.Server, s.Role, state, yesNo(s.SafeToStop))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, s := range p.Steps {
			fmt.Fprintf(w, "  %d. %s\n", s.Position, wrapWords(s.Why, 72, "\n     "))
			if !s.SafeToStop {
				fmt.Fprintf(w, "     not now: %s\n", wrapWords(s.StopReason, 66, "\n     "))
			}
		}
		if len(p.Unwatched) > 0 {
			fmt.Fprintf(w, "  not watched (not in the plan, counted as down):\n    %s\n", wrap(strings.Join(p.Unwatched, ", "), 74, "\n    "))
		}
		fmt.Fprintln(w, "  after each step: status --wait (whole again), then --member for the next")
		if p.FirstStepMustWait {
			fmt.Fprintf(w, "  WAIT: %s\n", wrapWords(strings.TrimPrefix(p.Wait, "the first step must wait: "), 72, "\n    "))
		}
		fmt.Fprintf(w, "  %s\n", p.Verdict)
	}
	return nil
}

// WritePlanJSON prints one JSON object per plan (one ensemble: one object,
// whose restart_order a script walks).
func WritePlanJSON(w io.Writer, plans []Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	for _, p := range plans {
		if err := enc.Encode(p); err != nil {
			return err
		}
	}
	return nil
}

// wrapWords breaks s at spaces so no line is longer than width (a word
// longer than width stands alone).
func wrapWords(s string, width int, sep string) string {
	var b strings.Builder
	line := 0
	for i, word := range strings.Fields(s) {
		switch {
		case i == 0:
		case line+1+len(word) > width:
			b.WriteString(sep)
			line = 0
		default:
			b.WriteByte(' ')
			line++
		}
		b.WriteString(word)
		line += len(word)
	}
	return b.String()
}
