package status

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
)

// The rhythm of status --wait.
const (
	// pollEvery: one poll a second costs each member three words.
	pollEvery = time.Second
	// progressEvery: a progress line at most this often when nothing
	// changed; progressGap: at most this often when it did.
	progressEvery = 10 * time.Second
	progressGap   = 2 * time.Second
	// ElectionGrace is how long --wait waits through a lost quorum before
	// it gives up with exit 2: the leader's own restart costs an election
	// (about 0.5 s measured, at most a few seconds), and the QuorumLost
	// alert waits as long (for: 30s) before paging.
	ElectionGrace = 30 * time.Second
)

// Clock is the time --wait runs on (the tests bring their own).
type Clock interface {
	Now() time.Time
	Sleep(time.Duration)
}

type realClock struct{}

func (realClock) Now() time.Time        { return time.Now() }
func (realClock) Sleep(d time.Duration) { time.Sleep(d) }

// Wait polls until every ensemble is whole (ensemble.Result.Missing says
// nothing), printing what it still waits for as one line at most every
// few seconds. It returns 0 once whole; 1 at the timeout, saying what is
// missing; 2 when quorum is lost and no election brings it back within
// ElectionGrace (or by the timeout).
func Wait(w io.Writer, poll func() []ensemble.Result, timeout time.Duration, clock Clock) int {
	start := clock.Now()
	deadline := start.Add(timeout)
	marks := map[string]ensemble.Mark{}
	var lastLine time.Time
	var lastText string
	var lostSince time.Time
	for {
		results := poll()
		now := clock.Now()
		var missing []string
		lost := false
		for _, r := range results {
			m := r.Missing(marks[r.Target.Name])
			marks[r.Target.Name] = r.LeaderMark()
			lost = lost || !r.View.Quorum
			if len(m) > 0 {
				missing = append(missing, r.Target.Name+": "+strings.Join(m, "; "))
			}
		}
		elapsed := seconds(now.Sub(start))
		if len(missing) == 0 {
			var parts []string
			for _, r := range results {
				v := r.View
				parts = append(parts, fmt.Sprintf("%s: %d members serving, in sync and caught up with the leader, membership consistent, failure tolerance %d",
					r.Target.Name, len(r.Members), v.FailureTolerance))
			}
			fmt.Fprintf(w, "whole after %s: %s\n", elapsed, strings.Join(parts, "; "))
			return Healthy
		}
		text := strings.Join(missing, " | ")
		if !lost {
			lostSince = time.Time{}
		} else if lostSince.IsZero() {
			lostSince = now
		}
		switch {
		case lost && now.Sub(lostSince) >= ElectionGrace:
			fmt.Fprintf(w, "QUORUM LOST for %s, no election brought it back: %s\n", seconds(now.Sub(lostSince)), text)
			return Lost
		case !now.Before(deadline) && lost:
			fmt.Fprintf(w, "QUORUM LOST at the timeout (%s): %s\n", timeout, text)
			return Lost
		case !now.Before(deadline):
			fmt.Fprintf(w, "timeout after %s, still waiting for: %s\n", timeout, text)
			return AtRisk
		}
		if lastLine.IsZero() || now.Sub(lastLine) >= progressEvery || (text != lastText && now.Sub(lastLine) >= progressGap) {
			fmt.Fprintf(w, "waiting (%s): %s\n", elapsed, text)
			lastLine, lastText = now, text
		}
		clock.Sleep(min(pollEvery, deadline.Sub(now)))
	}
}

func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
}
