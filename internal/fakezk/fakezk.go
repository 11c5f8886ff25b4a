// Package fakezk is a fake four-letter-word server for tests: it answers
// canned replies and misbehaves on purpose (stalls, drips, resets) in ways a
// real ZooKeeper can, or that no real one can but the network might.
package fakezk

import (
	"crypto/tls"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Behaviour says how the server answers one command.
type Behaviour int

const (
	// Answer writes the reply and closes, as ZooKeeper does.
	Answer Behaviour = iota
	// Stall accepts, reads the command and never answers (a SIGSTOPped JVM).
	Stall
	// Drip writes the reply one byte at a time, DripInterval apart.
	Drip
	// CloseAtOnce closes without writing a byte.
	CloseAtOnce
	// Reset closes with a TCP RST.
	Reset
	// HalfThenStall writes the first half of the reply, then stalls.
	HalfThenStall
)

// Server is a fake ZooKeeper client port on 127.0.0.1.
type Server struct {
	ln           net.Listener
	mu           sync.Mutex
	replies      map[string][]byte
	behaviour    map[string]Behaviour
	dripInterval time.Duration
	conns        atomic.Int64
	counts       sync.Map // command -> *atomic.Int64
	wg           sync.WaitGroup
	done         chan struct{}
	// delay holds each answer back, so connections stay open long enough
	// to be counted in flight.
	delay time.Duration
	// tracker, when set, counts this server's open connections together
	// with other servers'.
	tracker *Tracker
}

// SetDripInterval sets the pause between bytes of a Drip answer [100ms].
func (s *Server) SetDripInterval(d time.Duration) { s.mu.Lock(); s.dripInterval = d; s.mu.Unlock() }

// SetDelay holds every answer back by d.
func (s *Server) SetDelay(d time.Duration) { s.mu.Lock(); s.delay = d; s.mu.Unlock() }

// SetTracker counts this server's open connections in tr.
func (s *Server) SetTracker(tr *Tracker) { s.mu.Lock(); s.tracker = tr; s.mu.Unlock() }

// Tracker counts connections open at once across servers.
type Tracker struct {
	now, max atomic.Int64
}

func (tr *Tracker) inc() {
	n := tr.now.Add(1)
	for {
		m := tr.max.Load()
		if n <= m || tr.max.CompareAndSwap(m, n) {
			return
		}
	}
}

// Max is the most connections that were open at once.
func (tr *Tracker) Max() int64 { return tr.max.Load() }

// New starts a server closed by t.Cleanup.
func New(t testing.TB) *Server { return NewTLS(t, nil) }

// NewTLS starts a server that speaks TLS with cfg (plain TCP when nil), as
// ZooKeeper's secure client port does.
func NewTLS(t testing.TB, cfg *tls.Config) *Server { return NewOn(t, "127.0.0.1:0", cfg) }

// NewOn starts a server on a given loopback address ("[::1]:0" for IPv6).
func NewOn(t testing.TB, addr string, cfg *tls.Config) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("fakezk: listen: %v", err)
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	s := &Server{ln: ln, replies: map[string][]byte{}, behaviour: map[string]Behaviour{},
		dripInterval: 100 * time.Millisecond, done: make(chan struct{})}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

// Addr is the host:port to poll.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Set makes cmd answer reply with behaviour b. A command never Set gets 0
// bytes, as ZooKeeper does for a word it does not know.
func (s *Server) Set(cmd string, reply []byte, b Behaviour) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies[cmd] = reply
	s.behaviour[cmd] = b
}

// SetAll makes every command in replies answer with behaviour b.
func (s *Server) SetAll(replies map[string][]byte, b Behaviour) {
	for cmd, r := range replies {
		s.Set(cmd, r, b)
	}
}

// Connections is the number of connections accepted so far.
func (s *Server) Connections() int64 { return s.conns.Load() }

// Count is how many times cmd was asked.
func (s *Server) Count(cmd string) int64 {
	if v, ok := s.counts.Load(cmd); ok {
		return v.(*atomic.Int64).Load()
	}
	return 0
}

// Close stops the server and every connection it holds.
func (s *Server) Close() {
	select {
	case <-s.done:
		return
	default:
	}
	close(s.done)
	s.ln.Close()
	s.wg.Wait()
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.conns.Add(1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(c)
		}()
	}
}

func (s *Server) handle(c net.Conn) {
	defer c.Close()
	s.mu.Lock()
	tracker, delay, drip := s.tracker, s.delay, s.dripInterval
	s.mu.Unlock()
	if tracker != nil {
		tracker.inc()
		defer tracker.now.Add(-1)
	}
	// Close the connection when the server stops, so stalls end in tests.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-s.done:
			c.Close()
		case <-stop:
		}
	}()
	buf := make([]byte, 4)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil {
		return
	}
	cmd := string(buf)
	v, _ := s.counts.LoadOrStore(cmd, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
	s.mu.Lock()
	reply, b := s.replies[cmd], s.behaviour[cmd]
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-s.done:
			return
		}
	}
	switch b {
	case Answer:
		c.Write(reply)
	case Stall:
		<-s.done
	case Drip:
		for i := range reply {
			if _, err := c.Write(reply[i : i+1]); err != nil {
				return
			}
			select {
			case <-s.done:
				return
			case <-time.After(drip):
			}
		}
	case CloseAtOnce:
	case Reset:
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		if tc, ok := c.(*tls.Conn); ok {
			if raw, ok := tc.NetConn().(*net.TCPConn); ok {
				raw.SetLinger(0)
			}
		}
	case HalfThenStall:
		c.Write(reply[:len(reply)/2])
		<-s.done
	}
}
