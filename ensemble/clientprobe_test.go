package ensemble

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/go-zookeeper/zk"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
	"github.com/zookeeper-exporter/zookeeper_exporter/internal/fakezk"
	"github.com/zookeeper-exporter/zookeeper_exporter/internal/zkensemble"
)

// fakeListener is a client port that misbehaves the way no healthy real
// server does on demand: it closes every connection at once, answers the
// session request with a zero session (what a server says to a session it
// expired), or accepts and never answers.
func fakeListener(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
				select {
				case <-done:
				case <-time.After(10 * time.Second):
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// expireSession reads the connect request and answers it with session id 0
// and timeout 0.
func expireSession(c net.Conn) {
	var n uint32
	if binary.Read(c, binary.BigEndian, &n) != nil || n > 1<<16 {
		return
	}
	io.CopyN(io.Discard, c, int64(n))
	resp := make([]byte, 4+4+4+8+4+16)
	binary.BigEndian.PutUint32(resp, uint32(len(resp)-4))
	binary.BigEndian.PutUint32(resp[20:], 16) // password length
	c.Write(resp)
}

// TestClientProbe: a real 3-voter ensemble, one session per probe against
// one member alone, each failure reason from what causes it, the canary
// write, digest authentication, no session left behind, and the rate
// limit.
func TestClientProbe(t *testing.T) {
	e := zkensemble.Start(t, zkensemble.Options{Voters: 3})
	m := e.Members[0]
	admin, _, err := zk.Connect([]string{m.Addr()}, 10*time.Second, zk.WithLogger(discard{}))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.AddAuth("digest", []byte("exporter:s3cret")); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Create("/locked", []byte("x"), 0, zk.DigestACL(zk.PermRead, "exporter", "s3cret")); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Create("/canaries", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	baseline := aliveConnections(t, m.Addr())

	closing := fakeListener(t, func(c net.Conn) { c.Close() })
	expiring := fakeListener(t, expireSession)
	hung := fakeListener(t, func(net.Conn) {})
	refused := func() string {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		a := ln.Addr().String()
		ln.Close()
		return a
	}()

	cases := []struct {
		name, addr string
		probe      ClientProbe
		timeout    time.Duration
		reason     string // "" for success
	}{
		{"healthy member", m.Addr(), ClientProbe{Znode: "/zookeeper/config"}, 5 * time.Second, ""},
		{"digest credentials", m.Addr(), ClientProbe{Znode: "/locked", Digest: []byte("exporter:s3cret")}, 5 * time.Second, ""},
		{"wrong digest", m.Addr(), ClientProbe{Znode: "/locked", Digest: []byte("exporter:wrong")}, 5 * time.Second, ProbeAuthFailed},
		{"no credentials for an ACL", m.Addr(), ClientProbe{Znode: "/locked"}, 5 * time.Second, ProbeAuthFailed},
		{"missing znode", m.Addr(), ClientProbe{Znode: "/nowhere"}, 5 * time.Second, ProbeOther},
		{"closed at once", closing, ClientProbe{Znode: "/zookeeper/config"}, 5 * time.Second, ProbeConnectionLoss},
		{"zero session", expiring, ClientProbe{Znode: "/zookeeper/config"}, 5 * time.Second, ProbeSessionExpired},
		{"never answers", hung, ClientProbe{Znode: "/zookeeper/config"}, time.Second, ProbeTimeout},
		{"refused", refused, ClientProbe{Znode: "/zookeeper/config"}, 5 * time.Second, ProbeRefused},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
			defer cancel()
			start := time.Now()
			r := ProbeMember(ctx, c.addr, &c.probe, nil, nil)
			took := time.Since(start)
			t.Logf("success %v reason %q session %v read %v connections %d took %v", r.Success, r.Reason, r.Session, r.Op, r.Connections, took)
			if c.reason == "" {
				if !r.Success || !r.HasSession || !r.HasOp || r.Session <= 0 || r.Op <= 0 {
					t.Errorf("want success with session and read times, got %+v", r)
				}
			} else if r.Success || r.Reason != c.reason {
				t.Errorf("want failure %q, got success %v reason %q", c.reason, r.Success, r.Reason)
			}
			if r.Connections != 1 {
				t.Errorf("%d connections opened, want 1", r.Connections)
			}
			// A hang check, not a timing: the probe ends by its deadline
			// (plus go-zookeeper's close).
			if took > c.timeout+3*time.Second {
				t.Errorf("probe took %v, deadline %v", took, c.timeout)
			}
		})
	}

	t.Run("canary write", func(t *testing.T) {
		p := &ClientProbe{CanaryZnode: "/canaries/exporter"}
		for i := range 2 { // created, then set
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			r := CanaryWrite(ctx, []string{refused, m.Addr()}, p, nil, nil)
			cancel()
			if !r.Success || !r.HasOp || r.Connections != 2 {
				t.Fatalf("write %d: want success through the second server (2 connections), got %+v", i, r)
			}
		}
		data, stat, err := admin.Get("/canaries/exporter")
		if err != nil || len(data) == 0 || stat.Version != 1 {
			t.Errorf("canary znode: data %q version %v err %v, want a timestamp at version 1", data, stat, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r := CanaryWrite(ctx, []string{m.Addr()}, &ClientProbe{CanaryZnode: "/absent-parent/canary"}, nil, nil)
		if r.Success || r.Reason != ProbeOther {
			t.Errorf("canary under a missing parent: want failure other (parents are never created), got %+v", r)
		}
	})

	t.Run("no session left behind", func(t *testing.T) {
		e.WaitFor(20*time.Second, "the member's connections back to the baseline", func() bool {
			return aliveConnections(t, m.Addr()) <= baseline
		})
	})

	t.Run("rate limit: one probe per member per interval", func(t *testing.T) {
		p := NewPoller(log.NewNopLogger(), DefaultMaxConcurrency)
		target := Target{Name: "rl", Timeout: 5 * time.Second, Probe: &ClientProbe{Znode: "/zookeeper/config", Interval: time.Hour}}
		for _, mm := range e.Members {
			target.Members = append(target.Members, config.Member{Address: mm.Addr()})
		}
		first := p.Poll(context.Background(), target)
		second := p.Poll(context.Background(), target)
		for i := range first.Members {
			a, b := first.Members[i].Probe, second.Members[i].Probe
			if a == nil || b == nil || !a.Success || !b.At.Equal(a.At) || a.Connections != 1 || b.Connections != 0 {
				t.Errorf("member %d: first %+v, second %+v: want one probe, reported twice", i, a, b)
			}
		}
		if first.ProbeConnections != 3 || second.ProbeConnections != 3 {
			t.Errorf("connections counted %d then %d, want 3 and 3", first.ProbeConnections, second.ProbeConnections)
		}
	})

	t.Run("killed member refuses", func(t *testing.T) {
		e.Members[2].Kill()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if r := ProbeMember(ctx, e.Members[2].Addr(), &ClientProbe{Znode: "/zookeeper/config"}, nil, nil); r.Reason != ProbeRefused {
			t.Errorf("killed member: %+v, want refused", r)
		}
	})
}

// aliveConnections is the member's zk_num_alive_connections (mntr's own
// connection included).
func aliveConnections(t *testing.T, addr string) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	body, err := (&fourletter.Client{}).Do(ctx, addr, "mntr")
	if err != nil {
		t.Fatalf("mntr: %v", err)
	}
	mn, err := fourletter.ParseMntr(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	v, ok := mn.Value("num_alive_connections")
	if !ok {
		t.Fatal("no zk_num_alive_connections")
	}
	return v
}

// TestProbeAbandonedPollKeepsLastProbe: a scrape that gives up before the
// members' deadline (a hung member keeps the poll going) reports each
// member's last probe, not no probe series at all: in a partition, half
// the members hang and the scrape's own deadline often ends first.
func TestProbeAbandonedPollKeepsLastProbe(t *testing.T) {
	closing := fakeListener(t, func(c net.Conn) { c.Close() })
	hung := fakezk.New(t)
	for _, w := range []string{"srvr", "mntr", "conf", "ruok"} {
		hung.Set(w, nil, fakezk.Stall)
	}
	p := NewPoller(log.NewNopLogger(), DefaultMaxConcurrency)
	target := Target{Name: "e", Members: []config.Member{{Address: closing}, {Address: hung.Addr()}}, Timeout: time.Second,
		Probe: &ClientProbe{Znode: "/zookeeper/config", Interval: time.Hour}}
	first := p.Poll(context.Background(), target)
	if pr := first.Members[0].Probe; pr == nil || pr.Reason != ProbeConnectionLoss {
		t.Fatalf("first poll: probe %+v, want connection_loss", pr)
	}
	target.Probe = &ClientProbe{Znode: "/zookeeper/config", Interval: time.Hour} // same settings, same state
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	second := p.Poll(ctx, target)
	for i, s := range second.Members {
		if s.Probe == nil || !s.Probe.At.Equal(first.Members[i].Probe.At) {
			t.Errorf("abandoned poll, member %d: probe %+v, want the last one (%+v)", i, s.Probe, first.Members[i].Probe)
		}
	}
	if second.ProbeConnections != 2 {
		t.Errorf("connections %d, want 2", second.ProbeConnections)
	}
}
