package zkensemble

import (
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary serve as a multi-threaded child that never
// rests (busy threads in state R), like a JVM serving requests.
func TestMain(m *testing.M) {
	if os.Getenv("ZKENSEMBLE_SPIN") == "1" {
		runtime.GOMAXPROCS(4)
		for range 4 {
			go func() {
				for {
				}
			}()
		}
		select {}
	}
	os.Exit(m.Run())
}

// TestWaitStopped: allStopped tells a running multi-threaded process from a
// SIGSTOPped one, and waitStopped returns only once every thread stopped,
// which is what Pause relies on.
func TestWaitStopped(t *testing.T) {
	if _, err := os.Stat("/proc/self/task"); err != nil {
		t.Skip("no /proc")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ZKENSEMBLE_SPIN=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	pid := cmd.Process.Pid

	// Running: busy threads are not stopped (polled: the child may still be
	// starting its threads).
	if !eventually(func() bool { return !allStopped(pid) }) {
		t.Fatal("allStopped true for a running process")
	}
	cmd.Process.Signal(syscall.SIGSTOP)
	waitStopped(pid, 30*time.Second)
	if !allStopped(pid) {
		t.Fatal("waitStopped returned with a thread still running")
	}
	// Stopped stays stopped: nothing runs until SIGCONT.
	time.Sleep(50 * time.Millisecond)
	if !allStopped(pid) {
		t.Fatal("a thread ran after the process was stopped")
	}
	cmd.Process.Signal(syscall.SIGCONT)
	if !eventually(func() bool { return !allStopped(pid) }) {
		t.Fatal("allStopped true after SIGCONT")
	}
	cmd.Process.Kill()
	<-exited
	if !allStopped(pid) {
		t.Fatal("allStopped false for a process that is gone")
	}
}

// eventually polls cond for up to 30 s (a hang check, not a timing).
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}
