package ensemble

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/internal/fakezk"
)

// quickAndHung are two members: one that answers srvr at once, one that
// accepts and never answers.
func quickAndHung(t *testing.T) (quick, hung *fakezk.Server) {
	quick = fakezk.New(t)
	quick.Set("srvr", []byte("Zookeeper version: 3.8.0\nZxid: 0x100000005\nMode: follower\n"), fakezk.Answer)
	hung = fakezk.New(t)
	for _, w := range []string{"srvr", "mntr", "conf", "ruok"} {
		hung.Set(w, nil, fakezk.Stall)
	}
	return quick, hung
}

// TestPollAbandonedKeepsEveryMember: a scrape that gives up before its
// members' deadline still gets every member: the ones heard from with what
// they said, the others down with reason timeout.
func TestPollAbandonedKeepsEveryMember(t *testing.T) {
	quick, hung := quickAndHung(t)
	p := NewPoller(log.NewNopLogger(), DefaultMaxConcurrency)
	target := Target{Name: "e", Members: []config.Member{{Address: quick.Addr()}, {Address: hung.Addr()}}, Timeout: 5 * time.Second}

	// The scrape gives up well before the members' deadline, and late
	// enough that a quick member is heard from on a machine at load 9.
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	r := p.Poll(ctx, target)
	if len(r.Members) != 2 {
		t.Fatalf("%d members in the result, want 2", len(r.Members))
	}
	if s := r.Members[0]; !s.Up || s.State != StateFollower {
		t.Errorf("member heard before the scrape gave up: up %v state %q err %v", s.Up, s.State, s.Err)
	}
	if s := r.Members[1]; s.Up || DownReason(s.Err) != "timeout" {
		t.Errorf("hung member: up %v reason %q", s.Up, DownReason(s.Err))
	}

	// A second scrape meanwhile shares the poll in flight: the hung member
	// is not asked again.
	before := hung.Connections()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if r := p.Poll(context.Background(), target); len(r.Members) != 2 || r.Members[1].Up {
			t.Errorf("shared poll: %+v", r.Members)
		}
	}()
	wg.Wait()
	if got := hung.Connections() - before; got != 0 {
		t.Errorf("the scrape that waited opened %d new connections to the hung member, want 0 (one shared poll)", got)
	}
}

// TestDiscoveryCapped: a seed whose conf names 10,000 servers makes the
// exporter poll no more than the cap, and the log says so once, not every
// scrape.
func TestDiscoveryCapped(t *testing.T) {
	seed := fakezk.New(t)
	var conf strings.Builder
	conf.WriteString("clientPort=2181\nserverId=1\nmembership: \n")
	for i := 1; i <= 10000; i++ {
		// Client addresses on loopback (127.1.x.y), the discard port:
		// refused at once, nothing leaves the machine.
		fmt.Fprintf(&conf, "server.%d=127.1.%d.%d:2888:3888:participant;127.1.%d.%d:9\n", i, i/256, i%256, i/256, i%256)
	}
	conf.WriteString("version=100000000\n")
	seed.Set("conf", []byte(conf.String()), fakezk.Answer)
	seed.Set("srvr", []byte("Zookeeper version: 3.8.0\nZxid: 0x100000005\nMode: follower\n"), fakezk.Answer)
	var logs strings.Builder
	var mu sync.Mutex
	logger := log.LoggerFunc(func(kv ...any) error {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(&logs, kv...)
		return nil
	})
	p := NewPoller(logger, DefaultMaxConcurrency)
	target := Target{Name: "hostile", Members: []config.Member{{Address: seed.Addr()}}, Timeout: 2 * time.Second, Discover: true, DiscoverMax: 10}
	for range 3 {
		r := p.Poll(context.Background(), target)
		if len(r.Members) > 10 {
			t.Fatalf("%d members polled, cap 10", len(r.Members))
		}
		if r.View.Voters != 10000 {
			t.Errorf("voters %d: the membership still counts every server", r.View.Voters)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(logs.String(), "Discovered members"); n != 1 {
		t.Errorf("\"Discovered members\" logged %d times in 3 polls, want once", n)
	}
	if n := strings.Count(logs.String(), "more members than discovery polls"); n != 1 {
		t.Errorf("the cap logged %d times in 3 polls, want once", n)
	}
}

// TestPollAbandonedKeepsDiscovered: with discovery, a scrape that gives up
// before the members' deadline still answers for every member learned so
// far, not only the seeds: the healthy discovered member up, the hung one
// down with reason timeout.
func TestPollAbandonedKeepsDiscovered(t *testing.T) {
	seed, other, hung := fakezk.New(t), fakezk.New(t), fakezk.New(t)
	conf := fmt.Sprintf("clientPort=2181\nserverId=1\nmembership: \n"+
		"server.1=127.0.0.1:2888:3888:participant;%s\nserver.2=127.0.0.2:2888:3888:participant;%s\nserver.3=127.0.0.3:2888:3888:participant;%s\nversion=100000000\n",
		seed.Addr(), other.Addr(), hung.Addr())
	for _, srv := range []*fakezk.Server{seed, other} {
		srv.Set("srvr", []byte("Zookeeper version: 3.8.0\nZxid: 0x100000005\nMode: follower\n"), fakezk.Answer)
		srv.Set("conf", []byte(conf), fakezk.Answer)
	}
	for _, w := range []string{"srvr", "mntr", "conf", "ruok"} {
		hung.Set(w, nil, fakezk.Stall)
	}
	p := NewPoller(log.NewNopLogger(), DefaultMaxConcurrency)
	target := Target{Name: "e", Members: []config.Member{{Address: seed.Addr()}}, Timeout: 5 * time.Second, Discover: true}
	// A first, patient scrape learns the members.
	if r := p.Poll(context.Background(), target); len(r.Members) != 3 {
		t.Fatalf("discovery found %d members, want 3", len(r.Members))
	}
	// Gives up before the hung member's 5 s, late enough for the healthy
	// ones on a busy machine.
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	r := p.Poll(ctx, target)
	got := map[string]MemberSnapshot{}
	for _, s := range r.Members {
		got[s.Member.Address] = s
	}
	if len(got) != 3 {
		t.Fatalf("a scrape that gave up early answered for %d members, want the 3 discovered", len(got))
	}
	for _, srv := range []*fakezk.Server{seed, other} {
		if s := got[srv.Addr()]; !s.Up {
			t.Errorf("healthy member %s: up %v err %v", srv.Addr(), s.Up, s.Err)
		}
	}
	if s := got[hung.Addr()]; s.Up || DownReason(s.Err) != "timeout" {
		t.Errorf("hung member: up %v reason %q", s.Up, DownReason(s.Err))
	}
	if r.View.Voters != 3 || r.View.VotersUp != 2 {
		t.Errorf("voters %d up %d, want 3 and 2", r.View.Voters, r.View.VotersUp)
	}
}

// TestPollTellingTellsEachReplyOnce: a scrape is told of each member as
// its poll ends; a scrape that joins the poll under way is told at once of
// the members heard by then and later of the others: each reply once.
func TestPollTellingTellsEachReplyOnce(t *testing.T) {
	quick, hung := quickAndHung(t)
	p := NewPoller(log.NewNopLogger(), DefaultMaxConcurrency)
	target := Target{Name: "e", Members: []config.Member{{Address: quick.Addr()}, {Address: hung.Addr()}}, Timeout: 3 * time.Second}

	type told struct {
		mu    sync.Mutex
		times map[string]int
	}
	tell := func(k *told) func(MemberSnapshot) {
		k.times = map[string]int{}
		return func(s MemberSnapshot) {
			k.mu.Lock()
			k.times[s.Member.Address]++
			k.mu.Unlock()
		}
	}
	count := func(k *told, addr string) int {
		k.mu.Lock()
		defer k.mu.Unlock()
		return k.times[addr]
	}
	var first, second told
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	p.PollTelling(ctx, target, tell(&first))
	if n := count(&first, quick.Addr()); n != 1 {
		t.Errorf("the first scrape was told of the quick member %d times by its end, want 1", n)
	}
	// The poll goes on for the hung member: the second scrape joins it.
	r := p.PollTelling(context.Background(), target, tell(&second))
	if r.Members[1].Up {
		t.Fatalf("hung member up: %+v", r.Members[1])
	}
	for _, m := range target.Members {
		if n := count(&second, m.Address); n != 1 {
			t.Errorf("the joining scrape was told of %s %d times, want 1", m.Address, n)
		}
	}
	// The first scrape's callback is still told when the poll ends, after
	// it gave up (Premap ignores it then).
	if n := count(&first, hung.Addr()); n != 1 {
		t.Errorf("the first scrape was told of the hung member %d times, want 1", n)
	}
}
