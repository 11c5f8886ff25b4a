// Package zkensemble starts real ZooKeeper servers (Debian's zookeeper
// package) on 127.0.0.1 for tests: one JVM per member, each with its own
// ports and data directory, voters and observers. Every process is started
// and stopped by PID and dies with the test binary.
package zkensemble

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
)

// JarDir is where Debian installs the ZooKeeper jars and their friends.
const JarDir = "/usr/share/java"

// classPath: zookeeper.jar pulls its dependencies through its manifest;
// servlet-api is needed for the AdminServer and an slf4j binding for any log.
// The manifest misses netty-codec (and netty-resolver), which the Netty
// connection factory behind the secure client port needs.
var classPath = []string{"zookeeper.jar", "servlet-api.jar", "slf4j-log4j12.jar", "log4j-1.2.jar", "netty-codec.jar", "netty-resolver.jar", "netty-transport-native-unix-common.jar"}

// Available reports why real servers cannot run here, or nil.
func Available() error {
	if _, err := exec.LookPath("java"); err != nil {
		return errors.New("java is not installed")
	}
	for _, jar := range classPath {
		if _, err := os.Stat(filepath.Join(JarDir, jar)); err != nil {
			return fmt.Errorf("%s is missing (apt-get install zookeeper)", jar)
		}
	}
	return nil
}

// TB is what the helper needs of a test: testing.TB has it, and so does
// the demo command, which runs an ensemble outside any test.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Skipf(format string, args ...any)
	Cleanup(func())
	TempDir() string
	Failed() bool
}

// Require skips the test when ZooKeeper is not installed, except where it
// must run (CI=true or ZK_REQUIRED=1): there it fails.
func Require(t TB) {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("CI") == "true" || os.Getenv("ZK_REQUIRED") == "1" {
			t.Fatalf("real ZooKeeper required: %v", err)
		}
		t.Skipf("real ZooKeeper not available: %v", err)
	}
}

// RequireTool skips (or, where tests must run, fails) a test that needs a
// tool that could not be found.
func RequireTool(t TB, name string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" || os.Getenv("ZK_REQUIRED") == "1" {
		t.Fatalf("%s required: %v", name, err)
	}
	t.Skipf("%s not available: %v", name, err)
}

// Options shape an ensemble.
type Options struct {
	Voters, Observers int
	// DefaultWhitelist leaves 4lw.commands.whitelist out (only srvr allowed,
	// as since 3.5.3); otherwise every word is allowed.
	DefaultWhitelist bool
	// TLS, when set, opens a secure client port (Netty) on every member.
	TLS *TLS
	// DistinctHosts puts member N on 127.0.0.N, like separate hosts: the
	// members then share one client port and one AdminServer port, as in
	// production.
	DistinctHosts bool
	// ClientInServerLines writes 3.5+ style server lines that carry the
	// client address: server.N=host:q:e:role;host:clientPort.
	ClientInServerLines bool
	// Groups, when set, makes a hierarchical quorum: group.G=ids lines
	// (member ids start at 1), with Weights as weight.N lines.
	Groups  map[int][]int
	Weights map[int]int
	// Reconfig enables live reconfiguration (reconfigEnabled=true) and
	// lets any client run it (zookeeper.skipACL: a test ensemble only).
	Reconfig bool
	// Hosts, when set, is member N's address (Hosts[N-1], any 127.x.y.z:
	// Linux routes all of 127.0.0.0/8 to lo), each member with its own
	// ports: "data centres" of loopback addresses.
	Hosts []string
	// UIDs, when set, runs member N's JVM as user id UIDs[N-1] (0: as the
	// test), so firewall rules can tell the members' traffic apart by the
	// socket's owner (nft meta skuid). Needs root.
	UIDs []int
}

// TLS configures ZooKeeper's secure client port with PEM files.
type TLS struct {
	KeyStore   string // the server's key and certificate in one PEM file
	TrustStore string // the CA that signs client certificates
	ClientAuth string // need, want or none
}

// Ensemble is a set of running (or stopped) members.
type Ensemble struct {
	t       TB
	Dir     string
	Members []*Member
	opts    Options
}

// Member is one server. Its ports stay the same across restarts.
type Member struct {
	ID                                          int
	Observer                                    bool
	UID                                         int // 0: runs as the test
	ClientPort, QuorumPort, ElectionPort, Admin int
	SecurePort                                  int // 0 without TLS
	Host                                        string
	Dir                                         string

	e       *Ensemble
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	stopped bool // SIGSTOPped
}

// Start launches every member and waits until all serve.
func Start(t TB, opts Options) *Ensemble {
	t.Helper()
	Require(t)
	e := &Ensemble{t: t, Dir: t.TempDir(), opts: opts}
	if len(opts.UIDs) > 0 {
		// Members running as other users must reach their directories.
		for _, d := range []string{e.Dir, filepath.Dir(e.Dir)} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatalf("%v", err)
			}
		}
	}
	n := opts.Voters + opts.Observers
	ports := FreePorts(t, 5*n) // all at once: no port handed out twice
	for i := 0; i < n; i++ {
		e.addMember(i >= opts.Voters, ports[5*i:5*i+5])
	}
	t.Cleanup(e.Stop)
	for _, m := range e.Members {
		if err := m.WriteConfig(e.ServerLines()); err != nil {
			t.Fatalf("%v", err)
		}
		if err := m.Start(); err != nil {
			t.Fatalf("%v", err)
		}
	}
	e.WaitServing(60*time.Second, e.Members...)
	return e
}

// AddMember makes (but does not start) one more member; the others learn
// of it only when restarted with the new ServerLines.
func (e *Ensemble) AddMember(observer bool) *Member {
	e.t.Helper()
	return e.addMember(observer, FreePorts(e.t, 5))
}

// addMember makes member N+1 from five free ports (client, quorum,
// election, admin, secure).
func (e *Ensemble) addMember(observer bool, ports []int) *Member {
	id := len(e.Members) + 1
	m := &Member{ID: id, Observer: observer, ClientPort: ports[0], QuorumPort: ports[1], ElectionPort: ports[2], Admin: ports[3],
		Dir: filepath.Join(e.Dir, strconv.Itoa(id)), e: e, Host: "127.0.0.1"}
	if i := id - 1; i < len(e.opts.Hosts) {
		m.Host = e.opts.Hosts[i]
	}
	if i := id - 1; i < len(e.opts.UIDs) {
		m.UID = e.opts.UIDs[i]
	}
	if e.opts.DistinctHosts {
		m.Host = "127.0.0." + strconv.Itoa(id)
		if len(e.Members) > 0 {
			m.ClientPort, m.Admin = e.Members[0].ClientPort, e.Members[0].Admin
		}
	}
	if e.opts.TLS != nil {
		m.SecurePort = ports[4]
	}
	e.Members = append(e.Members, m)
	return m
}

// ServerLines are the zoo.cfg server.N lines every member shares.
func (e *Ensemble) ServerLines() []string {
	var lines []string
	for _, m := range e.Members {
		lines = append(lines, m.ServerLine())
	}
	return lines
}

// ServerLine is this member's server.N line.
func (m *Member) ServerLine() string {
	line := fmt.Sprintf("server.%d=%s:%d:%d", m.ID, m.Host, m.QuorumPort, m.ElectionPort)
	if m.Observer {
		line += ":observer"
	}
	if m.e.opts.ClientInServerLines {
		if !m.Observer {
			line += ":participant"
		}
		line += ";" + m.Addr()
	}
	return line
}

// QuorumLines are the group.N and weight.N lines of a hierarchical quorum.
func (e *Ensemble) QuorumLines() []string {
	var lines []string
	for g := 1; g <= len(e.opts.Groups)+10; g++ {
		ids, ok := e.opts.Groups[g]
		if !ok {
			continue
		}
		var parts []string
		for _, id := range ids {
			parts = append(parts, strconv.Itoa(id))
		}
		lines = append(lines, fmt.Sprintf("group.%d=%s", g, strings.Join(parts, ":")))
	}
	for id := 1; id <= len(e.Members); id++ {
		if w, ok := e.opts.Weights[id]; ok {
			lines = append(lines, fmt.Sprintf("weight.%d=%d", id, w))
		}
	}
	return lines
}

// SecureAddr is the member's TLS client address.
func (m *Member) SecureAddr() string {
	return net.JoinHostPort(m.Host, strconv.Itoa(m.SecurePort))
}

// Addr is the member's client address.
func (m *Member) Addr() string { return net.JoinHostPort(m.Host, strconv.Itoa(m.ClientPort)) }

// Servers is the --zookeeper.servers value for the whole ensemble.
func (e *Ensemble) Servers() string {
	var parts []string
	for _, m := range e.Members {
		s := m.Addr()
		if m.Observer {
			s += ":observer"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ",")
}

// WriteConfig writes the member's zoo.cfg with the given server lines (a
// test may hand a member a list the others do not share).
func (m *Member) WriteConfig(serverLines []string) error {
	if err := os.MkdirAll(filepath.Join(m.Dir, "data"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(m.Dir, "data", "myid"), []byte(strconv.Itoa(m.ID)+"\n"), 0o644); err != nil {
		return err
	}
	cfg := []string{
		"tickTime=2000", "initLimit=10", "syncLimit=5",
		"dataDir=" + filepath.Join(m.Dir, "data"),
		"clientPort=" + strconv.Itoa(m.ClientPort), "clientPortAddress=" + m.Host,
		"admin.enableServer=true", "admin.serverAddress=" + m.Host, "admin.serverPort=" + strconv.Itoa(m.Admin),
		"maxClientCnxns=0", "autopurge.purgeInterval=0",
	}
	if !m.e.opts.DefaultWhitelist {
		cfg = append(cfg, "4lw.commands.whitelist=*")
	}
	if m.SecurePort != 0 {
		cfg = append(cfg, "secureClientPort="+strconv.Itoa(m.SecurePort))
	}
	cfg = append(cfg, serverLines...)
	cfg = append(cfg, m.e.QuorumLines()...)
	if m.e.opts.Reconfig {
		cfg = append(cfg, "reconfigEnabled=true", "standaloneEnabled=false")
	}
	if err := os.WriteFile(filepath.Join(m.Dir, "zoo.cfg"), []byte(strings.Join(cfg, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	// ZooKeeper rewrites a dynamic config file next to zoo.cfg; a stale one
	// would override the server lines above.
	matches, _ := filepath.Glob(filepath.Join(m.Dir, "zoo.cfg.dynamic*"))
	for _, f := range matches {
		os.Remove(f)
	}
	log4j := strings.Join([]string{
		"log4j.rootLogger=INFO, FILE",
		"log4j.appender.FILE=org.apache.log4j.FileAppender",
		"log4j.appender.FILE.File=" + filepath.Join(m.Dir, "zookeeper.log"),
		"log4j.appender.FILE.layout=org.apache.log4j.PatternLayout",
		"log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n",
	}, "\n") + "\n"
	return os.WriteFile(filepath.Join(m.Dir, "log4j.properties"), []byte(log4j), 0o644)
}

// Start launches the member's JVM.
func (m *Member) Start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return fmt.Errorf("member %d already running", m.ID)
	}
	cp := make([]string, len(classPath))
	for i, jar := range classPath {
		cp[i] = filepath.Join(JarDir, jar)
	}
	args := []string{"-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
		"-Dlog4j.configuration=file:" + filepath.Join(m.Dir, "log4j.properties"),
		"-Dzookeeper.log.dir=" + m.Dir, "-Dzookeeper.jmx.log4j.disable=true", "-Djava.net.preferIPv4Stack=true"}
	if m.e.opts.Reconfig {
		args = append(args, "-Dzookeeper.skipACL=yes")
	}
	if m.UID != 0 {
		// No /tmp/hsperfdata_<user> for a user that has no name.
		args = append(args, "-XX:-UsePerfData")
		if err := chownTree(m.Dir, m.UID); err != nil {
			return err
		}
	}
	if t := m.e.opts.TLS; t != nil {
		args = append(args, "-Dzookeeper.serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
			"-Dzookeeper.ssl.keyStore.location="+t.KeyStore, "-Dzookeeper.ssl.keyStore.type=PEM",
			"-Dzookeeper.ssl.trustStore.location="+t.TrustStore, "-Dzookeeper.ssl.trustStore.type=PEM",
			"-Dzookeeper.ssl.clientAuth="+t.ClientAuth)
	}
	args = append(args, "-cp", strings.Join(cp, ":"), "org.apache.zookeeper.server.quorum.QuorumPeerMain", filepath.Join(m.Dir, "zoo.cfg"))
	cmd := exec.Command("java", args...)
	out, err := os.OpenFile(filepath.Join(m.Dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = out, out
	// The JVM dies with the test binary, even when the binary is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if m.UID != 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(m.UID), Gid: uint32(m.UID)}
	}
	if err := cmd.Start(); err != nil {
		out.Close()
		return err
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		out.Close()
		close(exited)
	}()
	m.cmd, m.exited, m.stopped = cmd, exited, false
	return nil
}

// PID is the running JVM's process id, 0 when not running.
func (m *Member) PID() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return 0
	}
	return m.cmd.Process.Pid
}

// Kill sends SIGKILL to the member's JVM and waits for it to exit.
func (m *Member) Kill() {
	m.mu.Lock()
	cmd, exited := m.cmd, m.exited
	m.cmd = nil
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGCONT) // a stopped process must run to die cleanly
	cmd.Process.Kill()
	<-exited
}

// Pause SIGSTOPs the member: its kernel still accepts connections, the JVM
// never answers. It returns once every thread of the JVM is stopped: Linux
// stops a multi-threaded process one thread at a time, starting with the
// one the signal woke, and on a busy machine the JVM's other threads were
// seen answering srvr and mntr after kill(2) returned (a paused member
// read as up).
func (m *Member) Pause() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		m.cmd.Process.Signal(syscall.SIGSTOP)
		m.stopped = true
		waitStopped(m.cmd.Process.Pid, 30*time.Second)
	}
}

// waitStopped waits until no thread of pid is running (every one stopped,
// or the process gone), for at most limit: a hang check, the test's own
// expectations then tell what went wrong.
func waitStopped(pid int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for !allStopped(pid) && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
}

// allStopped reports whether every thread of pid is stopped (state T or t
// in /proc/pid/task/*/stat), dead or gone.
func allStopped(pid int) bool {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return true // the process is gone
	}
	for _, task := range tasks {
		stat, err := os.ReadFile(filepath.Join(dir, task.Name(), "stat"))
		if err != nil {
			continue // the thread ended meanwhile
		}
		// "tid (comm) S ...": comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 || i+2 >= len(stat) {
			return false
		}
		switch stat[i+2] {
		case 'T', 't', 'Z', 'X':
		default:
			return false
		}
	}
	return true
}

// Resume SIGCONTs a paused member.
func (m *Member) Resume() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		m.cmd.Process.Signal(syscall.SIGCONT)
		m.stopped = false
	}
}

// Restart kills the member and starts it again with its current zoo.cfg.
func (m *Member) Restart() error {
	m.Kill()
	return m.Start()
}

// Stop kills every member; the ensemble's t.Cleanup calls it.
func (e *Ensemble) Stop() {
	for _, m := range e.Members {
		m.Kill()
	}
	if e.t.Failed() {
		for _, m := range e.Members {
			if b, err := os.ReadFile(filepath.Join(m.Dir, "zookeeper.log")); err == nil {
				e.t.Logf("member %d log tail:\n%s", m.ID, tail(string(b), 3000))
			}
		}
	}
}

// Mode asks srvr: "leader", "follower", "observer", "standalone",
// "not_serving" or "down".
func (m *Member) Mode() string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	body, err := (&fourletter.Client{}).Do(ctx, m.Addr(), "srvr")
	if errors.Is(err, fourletter.ErrNotServing) {
		return "not_serving"
	}
	if err != nil {
		return "down"
	}
	s, err := fourletter.ParseSrvr(strings.NewReader(string(body)))
	if err != nil {
		return "down"
	}
	return s.Mode
}

// Serving reports whether srvr answers with a serving mode.
func (m *Member) Serving() bool {
	switch m.Mode() {
	case "leader", "follower", "observer", "standalone":
		return true
	}
	return false
}

// WaitServing waits until every given member serves.
func (e *Ensemble) WaitServing(timeout time.Duration, members ...*Member) {
	e.t.Helper()
	e.WaitFor(timeout, "members serving", func() bool {
		for _, m := range members {
			if !m.Serving() {
				return false
			}
		}
		return true
	})
}

// WaitFor polls cond every 100ms until it holds, failing the test after
// timeout.
func (e *Ensemble) WaitFor(timeout time.Duration, what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			var modes []string
			for _, m := range e.Members {
				modes = append(modes, fmt.Sprintf("%d=%s", m.ID, m.Mode()))
			}
			e.t.Fatalf("timed out after %v waiting for %s (modes: %s)", timeout, what, strings.Join(modes, " "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Leader returns the member that says it leads, or nil.
func (e *Ensemble) Leader() *Member {
	for _, m := range e.Members {
		if m.Mode() == "leader" {
			return m
		}
	}
	return nil
}

// Followers returns the members that say they follow.
func (e *Ensemble) Followers() []*Member {
	var out []*Member
	for _, m := range e.Members {
		if m.Mode() == "follower" {
			out = append(out, m)
		}
	}
	return out
}

// FreePorts picks n free ports below 32768 for a process started later. The JVM binds them only later,
// so they must not come from the kernel's ephemeral range (32768-60999):
// there a port free now may be taken by some client's outgoing connection
// before ZooKeeper binds it, and the member cannot listen (seen as an
// election that never ends).
func FreePorts(t TB, n int) []int {
	t.Helper()
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	const low, high = 10000, 32768
	ports := make([]int, 0, n)
	next := low + rand.IntN(high-low)
	for tries := 0; len(ports) < n; tries++ {
		if tries == high-low {
			t.Fatalf("no %d free ports between %d and %d", n, low, high)
		}
		port := next
		next = low + (next-low+1+rand.IntN(7))%(high-low)
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue // taken
		}
		lns = append(lns, ln)
		ports = append(ports, port)
	}
	return ports
}

// chownTree gives dir and everything in it to uid.
func chownTree(dir string, uid int) error {
	return filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, uid)
	})
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
