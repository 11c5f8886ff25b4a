// Package status is the maintenance preflight: one poll of each ensemble,
// printed for a person at a terminal (or as JSON for scripts), with an exit
// status a runbook can branch on. It answers the question SREs otherwise
// answer with `echo stat | nc` on every node: may I take this member down?
package status

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
)

// Exit statuses.
const (
	Healthy = 0 // quorum with a failure to spare, every member serving
	AtRisk  = 1 // quorum holds, but a member is out or one more loss breaks it; or: not safe to stop
	Lost    = 2 // no quorum, or nothing reachable
)

// Member is one member's line.
type Member struct {
	Server      string   `json:"server"`
	Role        string   `json:"role"` // voter or observer, as configured
	State       string   `json:"state"`
	Down        string   `json:"down_reason,omitempty"`
	ZxidLag     *float64 `json:"zxid_lag,omitempty"`
	LatencyMs   *float64 `json:"latency_avg_ms,omitempty"`
	Outstanding *float64 `json:"outstanding_requests,omitempty"`
	SafeToStop  bool     `json:"safe_to_stop"`
	// Why says why it may or may not be stopped now.
	Why string `json:"safe_to_stop_reason"`
}

// Ensemble is one ensemble's report.
type Ensemble struct {
	Name             string   `json:"ensemble"`
	Members          []Member `json:"members"`
	Leader           string   `json:"leader,omitempty"`
	Epoch            *uint64  `json:"epoch,omitempty"`
	Leaders          int      `json:"leaders"`
	Voters           int      `json:"voters"`
	VotersUp         int      `json:"voters_up"`
	QuorumSize       int      `json:"quorum_size"`
	Quorum           bool     `json:"quorum"`
	FailureTolerance int      `json:"failure_tolerance"`
	Consistent       *bool    `json:"membership_consistent,omitempty"`
	// Membership says where the membership came from and its rule;
	// Unwatched lists the servers it names that the exporter does not poll.
	Membership string   `json:"membership_source"`
	Rule       string   `json:"quorum_rule"`
	Unwatched  []string `json:"unwatched_servers,omitempty"`
	Verdict    string   `json:"verdict"`
	Exit       int      `json:"exit_status"`
}

// Options say what Run answers: the report (Output table or json), or
// only whether Member may be stopped, or the restart Plan, or Wait until
// the ensemble is whole (at most WaitTimeout).
type Options struct {
	Output      string
	Member      string
	Plan        bool
	Wait        bool
	WaitTimeout time.Duration
}

// Run polls every ensemble (once, or until whole with Wait) and prints what
// opts ask for. It returns the exit status.
func Run(w io.Writer, cfg *config.Config, poller *ensemble.Poller, opts Options) int {
	poll := func() []ensemble.Result {
		var rs []ensemble.Result
		for _, e := range cfg.Ensembles {
			rs = append(rs, poller.Poll(context.Background(), ensemble.TargetOf(e)))
		}
		return rs
	}
	if opts.Wait {
		return Wait(w, poll, opts.WaitTimeout, realClock{})
	}
	results := poll()
	var reports []Ensemble
	for _, r := range results {
		reports = append(reports, Report(r))
	}
	switch {
	case opts.Member != "":
		m, err := config.ParseMember(opts.Member)
		if err != nil {
			fmt.Fprintf(w, "no: --member %v\n", err)
			return AtRisk
		}
		return MayStop(w, reports, m.Address)
	case opts.Plan:
		var plans []Plan
		for _, r := range results {
			plans = append(plans, PlanOf(r))
		}
		if opts.Output == "json" {
			WritePlanJSON(w, plans)
		} else {
			WritePlanTable(w, plans)
		}
		return WorstPlan(plans)
	case opts.Output == "json":
		WriteJSON(w, reports)
	default:
		WriteTable(w, reports)
	}
	return Worst(reports)
}

// Report builds an ensemble's report from one poll.
func Report(r ensemble.Result) Ensemble {
	v := r.View
	e := Ensemble{Name: r.Target.Name, Leaders: len(v.Leaders), Voters: v.Voters, VotersUp: v.VotersUp,
		QuorumSize: v.QuorumSize, Quorum: v.Quorum, FailureTolerance: v.FailureTolerance}
	if v.Leader >= 0 {
		e.Leader = r.Members[v.Leader].Member.Address
	}
	if v.HasEpoch {
		epoch := v.Epoch
		e.Epoch = &epoch
	}
	if v.HasConfig {
		c := v.ConfigConsistent
		e.Consistent = &c
	}
	e.Membership, e.Rule = v.Membership.Source, "majority"
	if v.Membership.Rule.IsHierarchical() {
		e.Rule = "hierarchical"
	}
	for _, j := range v.Unwatched {
		srv := v.Membership.Servers[j]
		e.Unwatched = append(e.Unwatched, fmt.Sprintf("server.%d (%s)", srv.ID, srv.Role))
	}
	allServing := true
	for i, s := range r.Members {
		m := Member{Server: s.Member.Address, Role: v.Roles[i], State: s.State, SafeToStop: v.SafeToStop[i], Why: v.StopReason[i]}
		if !s.Up {
			m.Down = ensemble.DownReason(s.Err)
		}
		if v.HasLag[i] {
			lag := v.ZxidLag[i]
			m.ZxidLag = &lag
		}
		if s.Srvr != nil && s.Srvr.HasLatency {
			avg, out := s.Srvr.LatencyAvg, s.Srvr.Outstanding
			m.LatencyMs, m.Outstanding = &avg, &out
		}
		if !s.Serving {
			allServing = false
		}
		e.Members = append(e.Members, m)
	}
	switch {
	case !v.Quorum && v.VotersUp == 0 && !anyUp(r):
		e.Verdict, e.Exit = "UNREACHABLE: no member answers", Lost
	case !v.Quorum:
		e.Verdict, e.Exit = "QUORUM LOST: no serving leader with a majority of voters", Lost
	case len(v.Leaders) > 1:
		e.Verdict, e.Exit = fmt.Sprintf("UNHEALTHY: %d members report leader; stop nothing", len(v.Leaders)), AtRisk
	case v.FailureTolerance <= 0 && v.UnwatchedVoters() > 0:
		e.Verdict, e.Exit = fmt.Sprintf("QUORUM AT RISK AS SEEN: %d voters not watched count as down; stop nothing", v.UnwatchedVoters()), AtRisk
	case v.FailureTolerance <= 0:
		e.Verdict, e.Exit = "QUORUM AT RISK: one more voter lost breaks quorum; stop nothing", AtRisk
	case e.Consistent != nil && !*e.Consistent:
		e.Verdict, e.Exit = "UNHEALTHY: members disagree on the server list", AtRisk
	case !allServing:
		e.Verdict, e.Exit = "DEGRADED: quorum holds with a failure to spare, but a member is not serving", AtRisk
	default:
		e.Verdict, e.Exit = "HEALTHY: quorum holds with a failure to spare", Healthy
	}
	return e
}

func anyUp(r ensemble.Result) bool {
	for _, s := range r.Members {
		if s.Up {
			return true
		}
	}
	return false
}

// Worst is the highest exit status of the reports.
func Worst(reports []Ensemble) int {
	worst := Healthy
	for _, e := range reports {
		worst = max(worst, e.Exit)
	}
	return worst
}

// WriteTable prints the reports for a terminal, within 80 columns.
func WriteTable(w io.Writer, reports []Ensemble) error {
	for i, e := range reports {
		if i > 0 {
			fmt.Fprintln(w)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "MEMBER\tROLE\tSTATE\tLAG\tLAT ms\tQUEUE\tSAFE TO STOP")
		for _, m := range e.Members {
			state := strings.ReplaceAll(m.State, "_", " ")
			if m.Down != "" {
				state = "down: " + m.Down
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Server, m.Role, state,
				num(m.ZxidLag, 0), num(m.LatencyMs, 1), num(m.Outstanding, 0), yesNo(m.SafeToStop))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		leader := "none"
		if e.Quorum && e.Leader == "" {
			leader = "not watched (a serving learner proves one)"
		}
		if e.Leader != "" {
			leader = e.Leader
			if e.Epoch != nil {
				leader += " (epoch " + strconv.FormatUint(*e.Epoch, 10) + ")"
			}
		}
		membership := "unknown"
		if e.Consistent != nil {
			membership = map[bool]string{true: "consistent", false: "MEMBERS DISAGREE"}[*e.Consistent]
		}
		fmt.Fprintf(w, "ensemble %s: leader %s\n", e.Name, leader)
		fmt.Fprintf(w, "  voters up %d of %d, quorum size %d, failure tolerance %d, membership %s\n",
			e.VotersUp, e.Voters, e.QuorumSize, e.FailureTolerance, membership)
		if len(e.Unwatched) > 0 {
			fmt.Fprintf(w, "  not watched (counted as down):\n    %s\n", wrap(strings.Join(e.Unwatched, ", "), 74, "\n    "))
		}
		fmt.Fprintf(w, "  %s\n", e.Verdict)
	}
	return nil
}

// WriteJSON prints the reports for scripts.
func WriteJSON(w io.Writer, reports []Ensemble) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(reports)
}

// MayStop answers "may I stop this member now?": yes or no and why, with
// exit status 0 (yes) or 1 (no, or the member is not configured).
func MayStop(w io.Writer, reports []Ensemble, server string) int {
	for _, e := range reports {
		for _, m := range e.Members {
			if m.Server != server {
				continue
			}
			if m.SafeToStop {
				fmt.Fprintf(w, "yes: %s may be stopped: %s\n", server, m.Why)
				return Healthy
			}
			fmt.Fprintf(w, "no: do not stop %s: %s\n", server, m.Why)
			return AtRisk
		}
	}
	fmt.Fprintf(w, "no: %s is not a configured member\n", server)
	return AtRisk
}

// wrap breaks s at ", " so no line is longer than width.
func wrap(s string, width int, sep string) string {
	var b strings.Builder
	line := 0
	for i, part := range strings.Split(s, ", ") {
		if i > 0 {
			if line+2+len(part) > width {
				b.WriteString("," + sep)
				line = 0
			} else {
				b.WriteString(", ")
				line += 2
			}
		}
		b.WriteString(part)
		line += len(part)
	}
	return b.String()
}

func num(v *float64, decimals int) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', decimals, 64)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}
