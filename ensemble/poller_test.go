package ensemble

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/internal/fakezk"
)

// TestPollAbandonedKeepsEveryMember: a scrape that gives up before its
// members' deadline still gets every member: the ones heard from with what
// they said, the others down with reason timeout.
func TestPollAbandonedKeepsEveryMember(t *testing.T) {
	quick := fakezk.New(t)
	quick.Set("srvr", []byte("Zookeeper version: 3.8.0\nZxid: 0x100000005\nMode: follower\n"), fakezk.Answer)
	hung := fakezk.New(t)
	for _, w := range []string{"srvr", "mntr", "conf", "ruok"} {
		hung.Set(w, nil, fakezk.Stall)
	}
	p := NewPoller(log.NewNopLogger(), DefaultMaxConcurrency)
	target := Target{Name: "e", Members: []config.Member{{Address: quick.Addr()}, {Address: hung.Addr()}}, Timeout: 3 * time.Second}

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
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
