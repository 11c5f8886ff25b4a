package status

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
)

// member builds a snapshot: state as the member would report it, or "down".
func member(addr, state string, observer bool) ensemble.MemberSnapshot {
	s := ensemble.MemberSnapshot{Member: config.Member{Address: addr, Observer: observer}, State: state, Up: state != "down"}
	if state == "down" {
		s.State, s.Err = ensemble.StateUnknown, syscall.ECONNREFUSED
		return s
	}
	s.Serving = state != ensemble.StateNotServing
	if s.Serving {
		s.Srvr = &fourletter.Srvr{Mode: state, Zxid: 0x100000005, HasZxid: true, LatencyAvg: 1.5, HasLatency: true}
	}
	return s
}

func result(members ...ensemble.MemberSnapshot) ensemble.Result {
	return ensemble.NewResult(ensemble.Target{Name: "prod"}, members, nil, 0)
}

func TestReport(t *testing.T) {
	for _, tc := range []struct {
		name    string
		r       ensemble.Result
		exit    int
		verdict string
	}{
		{"healthy", result(member("a:1", "leader", false), member("b:1", "follower", false), member("c:1", "follower", false), member("o:1", "observer", true)), Healthy, "HEALTHY"},
		{"observer down", result(member("a:1", "leader", false), member("b:1", "follower", false), member("c:1", "follower", false), member("o:1", "down", true)), AtRisk, "DEGRADED"},
		{"one voter down", result(member("a:1", "leader", false), member("b:1", "follower", false), member("c:1", "down", false)), AtRisk, "QUORUM AT RISK"},
		{"quorum lost", result(member("a:1", "not_serving", false), member("b:1", "down", false), member("c:1", "down", false)), Lost, "QUORUM LOST"},
		{"unreachable", result(member("a:1", "down", false), member("b:1", "down", false), member("c:1", "down", false)), Lost, "UNREACHABLE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := Report(tc.r)
			if e.Exit != tc.exit || !strings.HasPrefix(e.Verdict, tc.verdict) {
				t.Errorf("exit %d %q, want %d %q", e.Exit, e.Verdict, tc.exit, tc.verdict)
			}
			var table bytes.Buffer
			if err := WriteTable(&table, []Ensemble{e}); err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(table.String(), "\n") {
				if len(line) > 80 {
					t.Errorf("line wider than 80 columns: %q", line)
				}
			}
			var js bytes.Buffer
			WriteJSON(&js, []Ensemble{e})
			var back []Ensemble
			if err := json.Unmarshal(js.Bytes(), &back); err != nil || back[0].Exit != tc.exit {
				t.Errorf("json: %v %s", err, js.String())
			}
		})
	}
}

func TestMayStop(t *testing.T) {
	healthy := []Ensemble{Report(result(member("a:1", "leader", false), member("b:1", "follower", false), member("c:1", "follower", false), member("o:1", "observer", true)))}
	atRisk := []Ensemble{Report(result(member("a:1", "leader", false), member("b:1", "follower", false), member("c:1", "down", false)))}
	for _, tc := range []struct {
		name    string
		reports []Ensemble
		server  string
		exit    int
		answer  string
	}{
		{"healthy follower", healthy, "b:1", Healthy, "yes: b:1 may be stopped: quorum holds without it"},
		{"observer", healthy, "o:1", Healthy, "yes: o:1 may be stopped: it is an observer"},
		{"last spare voter", atRisk, "b:1", AtRisk, "no: do not stop b:1: failure tolerance is 0"},
		{"the member already down", atRisk, "c:1", Healthy, "yes: c:1 may be stopped: it is not part of the quorum now"},
		{"unknown member", healthy, "z:1", AtRisk, "no: z:1 is not a configured member"},
	} {
		var out bytes.Buffer
		if got := MayStop(&out, tc.reports, tc.server); got != tc.exit || !strings.HasPrefix(out.String(), tc.answer) {
			t.Errorf("%s: exit %d %q, want %d %q", tc.name, got, out.String(), tc.exit, tc.answer)
		}
	}
}

// TestPartialView: an exporter that watches two followers and the observer
// of 5 voters + 1 observer: quorum holds (the followers prove a leader),
// the three voters it cannot see count as down, nothing may be stopped
// but the observer, and the table says which servers are not watched.
func TestPartialView(t *testing.T) {
	var lines []string
	for i := 1; i <= 6; i++ {
		role := "participant"
		if i == 6 {
			role = "observer"
		}
		lines = append(lines, fmt.Sprintf("server.%d=zk%d.dc%d.example.com:2888:3888:%s;zk%d.dc%d.example.com:2181", i, i, 1+i%2, role, i, 1+i%2))
	}
	withConf := func(s ensemble.MemberSnapshot, id int) ensemble.MemberSnapshot {
		c, err := fourletter.ParseConf(strings.NewReader(fmt.Sprintf("serverId=%d\npeerType=0\nmembership: \n%s\nversion=100000000", id, strings.Join(lines, "\n"))))
		if err != nil {
			t.Fatal(err)
		}
		s.Conf = &c
		return s
	}
	r := result(withConf(member("zk2.dc1.example.com:2181", "follower", false), 2), withConf(member("zk4.dc1.example.com:2181", "follower", false), 4),
		withConf(member("zk6.dc1.example.com:2181", "observer", true), 6))
	e := Report(r)
	if !e.Quorum || e.Voters != 5 || e.FailureTolerance != 0 || e.Exit != AtRisk || !strings.HasPrefix(e.Verdict, "QUORUM AT RISK AS SEEN") {
		t.Errorf("quorum %v voters %d tolerance %d exit %d %q", e.Quorum, e.Voters, e.FailureTolerance, e.Exit, e.Verdict)
	}
	var out bytes.Buffer
	WriteTable(&out, []Ensemble{e})
	for _, line := range strings.Split(out.String(), "\n") {
		if len(line) > 80 {
			t.Errorf("line wider than 80 columns: %q", line)
		}
	}
	if !strings.Contains(out.String(), "server.1 (voter), server.3 (voter), server.5 (voter)") {
		t.Errorf("the servers not watched are not listed:\n%s", out.String())
	}
	t.Logf("\n%s", out.String())
	var answer bytes.Buffer
	if got := MayStop(&answer, []Ensemble{e}, "zk2.dc1.example.com:2181"); got != AtRisk || !strings.Contains(answer.String(), "3 voter(s) of the ensemble are not watched") {
		t.Errorf("exit %d %q", got, answer.String())
	}
	answer.Reset()
	if got := MayStop(&answer, []Ensemble{e}, "zk6.dc1.example.com:2181"); got != Healthy {
		t.Errorf("observer: exit %d %q", got, answer.String())
	}
}
