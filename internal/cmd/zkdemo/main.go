// Command zkdemo starts a local ZooKeeper ensemble (3 voters + 1 observer,
// Debian's zookeeper package) and zookeeper_exporter against it, prints
// where to look, and stops everything on Ctrl-C. `make demo` runs it.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zookeeper-exporter/zookeeper_exporter/internal/zkensemble"
)

// session stands in for a test: it collects clean-ups and runs them on exit.
type session struct {
	dir      string
	cleanups []func()
}

func (s *session) Helper()                          {}
func (s *session) Logf(format string, args ...any)  { fmt.Printf(format+"\n", args...) }
func (s *session) Skipf(format string, args ...any) { s.Fatalf(format, args...) }
func (s *session) Cleanup(f func())                 { s.cleanups = append(s.cleanups, f) }
func (s *session) Failed() bool                     { return false }
func (s *session) TempDir() string                  { return s.dir }
func (s *session) Fatalf(format string, args ...any) {
	s.stop()
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func (s *session) stop() {
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
	s.cleanups = nil
}

func main() {
	exporterBin := flag.String("exporter", "./zookeeper_exporter", "the exporter binary to run")
	listen := flag.String("listen", "127.0.0.1:9141", "the exporter's listen address")
	dir := flag.String("dir", ".demo", "where the members keep their data and logs")
	flag.Parse()
	if err := zkensemble.Available(); err != nil {
		fmt.Fprintf(os.Stderr, "zkdemo: %v\n", err)
		os.Exit(1)
	}
	abs, _ := filepath.Abs(*dir)
	os.RemoveAll(abs)
	s := &session{dir: abs}

	fmt.Println("Starting 3 voters + 1 observer (Debian's ZooKeeper) on 127.0.0.1 ...")
	start := time.Now()
	e := zkensemble.Start(s, zkensemble.Options{Voters: 3, Observers: 1})
	fmt.Printf("Ensemble serving after %v:\n", time.Since(start).Round(time.Millisecond))
	for _, m := range e.Members {
		fmt.Printf("  member %d  %-16s %-9s pid %-7d log %s\n", m.ID, m.Addr(), m.Mode(), m.PID(), filepath.Join(m.Dir, "zookeeper.log"))
	}

	cmd := exec.Command(*exporterBin, "--zookeeper.servers="+e.Servers(), "--zookeeper.ensemble=demo", "--web.listen-address="+*listen)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.Fatalf("zkdemo: starting the exporter: %v", err)
	}
	s.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })

	fmt.Printf(`
zookeeper_exporter is running (pid %d):
  metrics:      curl -s http://%[2]s/metrics | grep -E '^zookeeper_(ensemble_|up{)'
  landing page: http://%[2]s/
  one ensemble: http://%[2]s/probe?target=demo
Break it and scrape again:
  kill -STOP %d   # hang a member        kill -CONT %[3]d to resume
  kill -9 %d      # kill another member   (two voters down: quorum lost)
Bring a member back: type its number (1 to %d) and Enter; it is started
again with its data (a running one is restarted).
Ctrl-C stops everything.
`, cmd.Process.Pid, *listen, e.Members[0].PID(), e.Members[1].PID(), len(e.Members))

	go func() {
		lines := bufio.NewScanner(os.Stdin)
		for lines.Scan() {
			n, err := strconv.Atoi(strings.TrimSpace(lines.Text()))
			if err != nil || n < 1 || n > len(e.Members) {
				fmt.Printf("type a member number, 1 to %d\n", len(e.Members))
				continue
			}
			m := e.Members[n-1]
			if err := m.Restart(); err != nil {
				fmt.Printf("member %d: %v\n", n, err)
				continue
			}
			fmt.Printf("member %d started again: pid %d (it serves again once it has joined the ensemble)\n", n, m.PID())
		}
	}()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	fmt.Println("\nStopping the exporter and the ensemble ...")
	s.stop()
}
