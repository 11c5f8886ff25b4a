package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
	"github.com/zookeeper-exporter/zookeeper_exporter/internal/zkensemble"
)

// A rolling restart driven by the exporter alone: the test decides only
// through `status --plan`, `status --member` and `status --wait` (the real
// command), stops and starts the members through the ensemble helper, and
// meanwhile writes through a go-zookeeper client and scrapes the daemon
// every 200 ms.

// planStep and planOut are the parts of `status --plan --output=json` the
// test reads.
type planStep struct {
	Position   int    `json:"position"`
	Server     string `json:"server"`
	Role       string `json:"role"`
	State      string `json:"state"`
	Why        string `json:"reason"`
	SafeToStop bool   `json:"safe_to_stop_now"`
	StopReason string `json:"safe_to_stop_reason"`
}

type planOut struct {
	RestartOrder []string   `json:"restart_order"`
	Steps        []planStep `json:"steps"`
	MustWait     bool       `json:"first_step_must_wait"`
	Wait         string     `json:"wait_reason"`
}

func statusPlan(t *testing.T, servers string) (planOut, string, int) {
	t.Helper()
	out, code := runStatus(t, "--zookeeper.servers="+servers, "--zookeeper.ensemble=roll", "--plan", "--output=json")
	var p planOut
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("status --plan --output=json (exit %d): %v\n%s", code, err, out)
	}
	return p, out, code
}

// stepStats is what happened during one step of the restart.
type stepStats struct {
	scrapes, quorum0, noValue int
	writesOK, writesFailed    int
	errs                      map[string]int
}

// recorder files scrapes and writes under the step running when they
// complete.
type recorder struct {
	mu    sync.Mutex
	step  string
	order []string
	steps map[string]*stepStats
}

func (r *recorder) set(step string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.step = step
	if _, ok := r.steps[step]; !ok {
		r.steps[step] = &stepStats{errs: map[string]int{}}
		r.order = append(r.order, step)
	}
}

func (r *recorder) add(f func(*stepStats)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r.steps[r.step])
}

// quorumOf scrapes the daemon once: zookeeper_ensemble_quorum, or false
// when the scrape gave no value.
func quorumOf(base string) (float64, bool) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0, false
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		return 0, false
	}
	s := scrape{families: fams}
	return s.value("zookeeper_ensemble_quorum", "ensemble=roll")
}

// orderedHosts connects to the servers in the order given (go-zookeeper's
// default shuffles the list before Init, so the order is the provider's
// own): the writer starts on the leader, whose restart is the plan's last
// step, so a connection loss of the writer's own server is part of that
// step only.
type orderedHosts struct {
	servers []string
	next    int
}

func (h *orderedHosts) Init([]string) error { return nil }
func (h *orderedHosts) Len() int            { return len(h.servers) }
func (h *orderedHosts) Next() (string, bool) {
	s := h.servers[h.next%len(h.servers)]
	h.next++
	return s, h.next%len(h.servers) == 0
}
func (h *orderedHosts) Connected() { h.next-- } // stay on the server that answered

func zxidAt(addr string) (uint64, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	body, err := (&fourletter.Client{}).Do(ctx, addr, "srvr")
	if err != nil {
		return 0, false
	}
	s, err := fourletter.ParseSrvr(strings.NewReader(string(body)))
	if err != nil || !s.HasZxid {
		return 0, false
	}
	return s.Zxid, true
}

// highestZxid is the highest zxid a serving member tells: the leader's, or
// past it.
func highestZxid(e *zkensemble.Ensemble) uint64 {
	var top uint64
	for _, m := range e.Members {
		if z, ok := zxidAt(m.Addr()); ok && z > top {
			top = z
		}
	}
	return top
}

func memberAt(t *testing.T, e *zkensemble.Ensemble, addr string) *zkensemble.Member {
	t.Helper()
	for _, m := range e.Members {
		if m.Addr() == addr {
			return m
		}
	}
	t.Fatalf("the plan names %s, which is no member", addr)
	return nil
}

func TestRollingRestart(t *testing.T) {
	for _, voters := range []int{3, 5} {
		t.Run(fmt.Sprintf("%d+1", voters), func(t *testing.T) {
			e := zkensemble.Start(t, zkensemble.Options{Voters: voters, Observers: 1})
			servers := e.Servers()
			x := startExporter(t, "--zookeeper.servers="+servers, "--zookeeper.ensemble=roll", "--zookeeper.timeout="+memberTimeout.String())
			wait := func(t *testing.T, timeout string) (string, int, time.Duration) {
				t.Helper()
				start := time.Now()
				out, code := runStatus(t, "--zookeeper.servers="+servers, "--zookeeper.ensemble=roll", "--zookeeper.timeout="+memberTimeout.String(),
					"--wait", "--wait.timeout="+timeout)
				return out, code, time.Since(start)
			}
			if out, code, _ := wait(t, "2m"); code != 0 {
				t.Fatalf("status --wait on the fresh ensemble: exit %d\n%s", code, out)
			}

			p, raw, code := statusPlan(t, servers)
			table, _ := runStatus(t, "--zookeeper.servers="+servers, "--zookeeper.ensemble=roll", "--plan")
			t.Logf("status --plan (exit %d):\n%s\nstatus --plan --output=json:\n%s", code, table, raw)
			if code != 0 || p.MustWait || len(p.RestartOrder) != len(e.Members) {
				t.Fatalf("plan of a whole ensemble: exit %d, must wait %v, %d members", code, p.MustWait, len(p.RestartOrder))
			}
			// Observers first, the leader last, every member once.
			leader := e.Leader()
			if leader == nil || p.RestartOrder[len(p.RestartOrder)-1] != leader.Addr() || p.Steps[len(p.Steps)-1].State != "leader" {
				t.Errorf("the plan does not end with the leader %v: %v", leader, p.RestartOrder)
			}
			for i, m := range e.Members {
				if m.Observer && p.RestartOrder[0] != m.Addr() {
					t.Errorf("observer %s is not first: %v", m.Addr(), p.RestartOrder)
				}
				if !slices.Contains(p.RestartOrder, e.Members[i].Addr()) {
					t.Errorf("%s is not in the plan", m.Addr())
				}
			}

			rec := &recorder{steps: map[string]*stepStats{}}
			rec.set("before")
			// The writer: leader first, then the plan backwards.
			hosts := slices.Clone(p.RestartOrder)
			slices.Reverse(hosts)
			conn, _, err := zk.Connect(hosts, 10*time.Second, zk.WithLogger(quietLogger{}), zk.WithHostProvider(&orderedHosts{servers: hosts}))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Create("/rolling", nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
				t.Fatalf("create /rolling: %v", err)
			}
			done := make(chan struct{})
			var bg sync.WaitGroup
			bg.Add(2)
			go func() {
				defer bg.Done()
				for i := 0; ; i++ {
					select {
					case <-done:
						return
					default:
					}
					_, err := conn.Set("/rolling", []byte(strconv.Itoa(i)), -1)
					rec.add(func(s *stepStats) {
						if err == nil {
							s.writesOK++
						} else {
							s.writesFailed++
							s.errs[err.Error()]++
						}
					})
					if err != nil {
						time.Sleep(50 * time.Millisecond) // no busy loop while disconnected
					}
				}
			}()
			go func() {
				defer bg.Done()
				tick := time.NewTicker(200 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-done:
						return
					case <-tick.C:
					}
					q, ok := quorumOf(x.base)
					rec.add(func(s *stepStats) {
						s.scrapes++
						switch {
						case !ok:
							s.noValue++
						case q == 0:
							s.quorum0++
						}
					})
				}
			}()
			stopBackground := sync.OnceFunc(func() { close(done); bg.Wait() })
			defer stopBackground()
			time.Sleep(time.Second) // some writes and scrapes before the first step

			var leaderStep string
			for i, addr := range p.RestartOrder {
				m := memberAt(t, e, addr)
				role := p.Steps[i].State
				step := fmt.Sprintf("%d %s %s", i+1, role, addr)
				if out, code := runStatus(t, "--zookeeper.servers="+servers, "--zookeeper.ensemble=roll", "--member="+addr); code != 0 {
					t.Fatalf("step %s: status --member exit %d on a whole ensemble: %s", step, code, out)
				}
				rec.set(step)
				m.Kill()
				if err := m.Start(); err != nil {
					t.Fatal(err)
				}
				// What the leader had while the member was away: it must
				// have it all when --wait says whole.
				mark := highestZxid(e)
				timeout := "3m"
				if i == len(p.RestartOrder)-1 {
					leaderStep, timeout = step, "1m" // whole again within a minute
				}
				out, code, took := wait(t, timeout)
				rec.set("between steps")
				t.Logf("step %s: status --wait exit %d after %v:\n%s", step, code, took.Round(100*time.Millisecond), out)
				if code != 0 {
					t.Fatalf("step %s: status --wait exit %d", step, code)
				}
				z, ok := zxidAt(addr)
				if !ok || !m.Serving() || z < mark {
					t.Errorf("step %s: after --wait the member serves %v with zxid %#x, want at least %#x (the leader's while it was away)", step, m.Serving(), z, mark)
				}
			}
			time.Sleep(time.Second)
			stopBackground()

			var total stepStats
			for _, name := range rec.order {
				s := rec.steps[name]
				t.Logf("%-34s scrapes %3d, quorum 0 in %d, no value %d; writes ok %4d, failed %d %v", name, s.scrapes, s.quorum0, s.noValue, s.writesOK, s.writesFailed, s.errs)
				total.scrapes += s.scrapes
				total.quorum0 += s.quorum0
				total.writesOK += s.writesOK
				total.writesFailed += s.writesFailed
				if name == leaderStep {
					continue
				}
				if s.quorum0 > 0 {
					t.Errorf("%s: the daemon showed zookeeper_ensemble_quorum 0 in %d of %d scrapes", name, s.quorum0, s.scrapes)
				}
				if s.writesFailed > 0 {
					t.Errorf("%s: %d writes failed outside the leader's restart: %v", name, s.writesFailed, s.errs)
				}
			}
			t.Logf("in all: %d scrapes, %d with quorum 0 (%d in the leader's step); %d writes ok, %d failed (%d in the leader's step)",
				total.scrapes, total.quorum0, rec.steps[leaderStep].quorum0, total.writesOK, total.writesFailed, rec.steps[leaderStep].writesFailed)
			if total.writesOK == 0 || total.scrapes == 0 {
				t.Errorf("no writes or no scrapes recorded")
			}

			if voters == 3 {
				t.Run("incident: one voter held down", func(t *testing.T) { rollingIncident(t, e, servers) })
			}
		})
	}
}

// rollingIncident is the field outage: one voter of 3 is down and someone
// stops another. --member refuses with the reason; --wait names the member
// it waits for and gives up at its timeout.
func rollingIncident(t *testing.T, e *zkensemble.Ensemble, servers string) {
	followers := e.Followers()
	if len(followers) != 2 {
		t.Fatalf("want 2 followers, got %d", len(followers))
	}
	held, other := followers[0], followers[1]
	held.Kill()
	e.WaitFor(30*time.Second, "the leader to count the killed follower out", func() bool {
		out, code := runStatus(t, "--zookeeper.servers="+servers, "--member="+other.Addr())
		return code == 1 && strings.Contains(out, "failure tolerance is 0")
	})
	statusMember(t, servers, other.Addr(), 1, "no: do not stop "+other.Addr()+": failure tolerance is 0")
	statusMember(t, servers, e.Leader().Addr(), 1, "failure tolerance is 0")

	start := time.Now()
	out, code := runStatus(t, "--zookeeper.servers="+servers, "--zookeeper.timeout="+memberTimeout.String(), "--wait", "--wait.timeout=5s")
	took := time.Since(start)
	t.Logf("status --wait --wait.timeout=5s: exit %d after %v:\n%s", code, took.Round(100*time.Millisecond), out)
	if code != 1 || !strings.Contains(out, "timeout after 5s, still waiting for: ") || !strings.Contains(out, held.Addr()+": down (refused)") {
		t.Errorf("want exit 1 naming %s as down", held.Addr())
	}
	if limit := 5*time.Second + 30*time.Second; took > limit { // a hang check
		t.Errorf("--wait.timeout=5s returned after %v", took)
	}

	// The plan still places every member: the down voter first among the
	// voters, the others refused.
	p, raw, code := statusPlan(t, servers)
	t.Logf("status --plan with %s down (exit %d):\n%s", held.Addr(), code, raw)
	for _, s := range p.Steps {
		switch {
		case s.Server == held.Addr() && (s.Position != 2 || !s.SafeToStop):
			t.Errorf("the down voter: %+v, want step 2, safe", s)
		case s.Role == "voter" && s.Server != held.Addr() && s.SafeToStop:
			t.Errorf("voter %s may be stopped with another voter down: %+v", s.Server, s)
		}
	}

	// An exporter that watches only the two live voters: the down voter and
	// the observer count as down, the first step must wait.
	partial := other.Addr() + "," + e.Leader().Addr()
	p, raw, code = statusPlan(t, partial)
	t.Logf("status --plan watching only %s (exit %d):\n%s", partial, code, raw)
	if code != 1 || !p.MustWait || !strings.Contains(p.Wait, "the first step must wait: "+p.RestartOrder[0]) {
		t.Errorf("want exit 1, the first step must wait: exit %d %+v", code, p)
	}
}

// TestStatusOneQuestion: --member, --plan and --wait are one question
// each, and --wait gives up with exit 2 on an ensemble nobody answers for.
func TestStatusOneQuestion(t *testing.T) {
	nobody := "--zookeeper.servers=127.0.0.1:" + strconv.Itoa(freePort(t))
	for _, tc := range []struct {
		args []string
		exit int
		want string
	}{
		{[]string{"--plan", "--wait"}, 1, "--member, --plan and --wait are separate questions"},
		{[]string{"--member=127.0.0.1:2181", "--plan"}, 1, "ask one at a time"},
		{[]string{"--wait", "--wait.timeout=soon"}, 1, `--wait.timeout: invalid duration "soon"`},
		{[]string{nobody, "--wait", "--wait.timeout=0s"}, 2, "QUORUM LOST at the timeout (0s)"},
		{[]string{nobody, "--plan"}, 2, "WAIT: 127.0.0.1:"},
	} {
		out, code := runStatus(t, tc.args...)
		if code != tc.exit || !strings.Contains(out, tc.want) {
			t.Errorf("status %v: exit %d, want %d with %q:\n%s", tc.args, code, tc.exit, tc.want, out)
		}
	}
}
