package fourletter_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
	"github.com/zookeeper-exporter/zookeeper_exporter/internal/fakezk"
)

func TestDo(t *testing.T) {
	srv := fakezk.New(t)
	srv.SetDripInterval(5 * time.Millisecond)
	big := bytes.Repeat([]byte("zk_x\t1\n"), (fourletter.MaxResponseBytes/7)+10)
	srv.Set("srvr", []byte("Mode: leader\n"), fakezk.Answer)
	srv.Set("mntr", []byte("This ZooKeeper instance is not currently serving requests\n"), fakezk.Answer)
	srv.Set("conf", []byte("conf is not executed because it is not in the whitelist.\n"), fakezk.Answer)
	srv.Set("stat", nil, fakezk.Stall)
	srv.Set("dump", []byte("Mode: follower\n"), fakezk.Drip)
	srv.Set("envi", nil, fakezk.CloseAtOnce)
	srv.Set("cons", bytes.Repeat([]byte("x"), 100), fakezk.HalfThenStall)
	srv.Set("wchs", big, fakezk.Answer)
	srv.Set("ruok", []byte("imok"), fakezk.Reset)

	for _, tc := range []struct {
		cmd      string
		wantErr  error
		wantBody string
		maxTime  time.Duration
	}{
		{cmd: "srvr", wantBody: "Mode: leader\n"},
		{cmd: "mntr", wantErr: fourletter.ErrNotServing},
		{cmd: "conf", wantErr: fourletter.ErrNotWhitelisted},
		{cmd: "stat", wantErr: context.DeadlineExceeded},
		{cmd: "dump", wantBody: "Mode: follower\n"},
		{cmd: "envi", wantErr: fourletter.ErrEmptyResponse},
		{cmd: "cons", wantErr: context.DeadlineExceeded},
		{cmd: "wchs", wantErr: fourletter.ErrResponseTooLarge},
		{cmd: "hash", wantErr: fourletter.ErrEmptyResponse},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			// Only the stalls get a short deadline, since they end only
			// there. Every other case ends on what the server sends (the
			// dripped reply takes 75 ms, the over-cap one a megabyte, on
			// a quiet machine), so it gets a deadline a busy machine
			// cannot miss: the outcome must not depend on the load.
			deadline := 10 * time.Second
			if errors.Is(tc.wantErr, context.DeadlineExceeded) {
				deadline = 300 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			start := time.Now()
			body, err := (&fourletter.Client{}).Do(ctx, srv.Addr(), tc.cmd)
			// A hang check: a busy machine adds seconds, ignoring the
			// deadline adds far more.
			if elapsed := time.Since(start); elapsed > deadline+10*time.Second {
				t.Errorf("took %v, past the %v deadline", elapsed, deadline)
			}
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantBody != "" && string(body) != tc.wantBody {
				t.Errorf("body %q", body)
			}
			if tc.cmd == "wchs" && len(body) != fourletter.MaxResponseBytes {
				t.Errorf("capped body is %d bytes", len(body))
			}
		})
	}

	t.Run("refused", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		_, err := (&fourletter.Client{}).Do(context.Background(), addr, "srvr")
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want connection refused", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		_, err := (&fourletter.Client{}).Do(ctx, srv.Addr(), "stat")
		if !errors.Is(err, context.Canceled) || time.Since(start) > 10*time.Second {
			t.Errorf("err = %v after %v", err, time.Since(start))
		}
	})
	t.Run("bad word", func(t *testing.T) {
		if _, err := (&fourletter.Client{}).Do(context.Background(), srv.Addr(), "mntrx"); err == nil {
			t.Error("5-byte word accepted")
		}
	})
}
