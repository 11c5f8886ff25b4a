// Package fourletter speaks ZooKeeper's four-letter words ("4lw") and parses
// their replies into plain Go values. It knows nothing about Prometheus.
//
// The wire protocol: the client sends four ASCII bytes on the client port,
// the server writes its answer and closes the connection. There is no length
// prefix, so a reply ends at EOF. A hung server (SIGSTOP) still accepts the
// TCP connection from the kernel backlog and then never answers, which is why
// Do puts a single deadline over connect, write and read.
package fourletter

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// MaxResponseBytes caps how much of a reply is read. A healthy 3.8 leader's
// mntr is about 19 KiB; anything past 1 MiB is not a ZooKeeper answer.
const MaxResponseBytes = 1 << 20

// Refusals are states of a server, not faults of the exporter: check them with
// errors.Is.
var (
	// ErrNotServing is the answer of a member that is up but has no quorum
	// (LOOKING), or an observer without a leader.
	ErrNotServing = errors.New("zookeeper instance is not currently serving requests")
	// ErrNotWhitelisted is the answer to a word missing from
	// 4lw.commands.whitelist (since 3.5.3 only srvr is allowed by default).
	ErrNotWhitelisted = errors.New("four-letter word is not in the server's whitelist")
	// ErrResponseTooLarge means the reply went past the read cap; the first
	// MaxResponseBytes are still returned.
	ErrResponseTooLarge = errors.New("four-letter-word response exceeds the read cap")
	// ErrTLSHandshake wraps a failed TLS handshake: a wrong CA, server
	// name or client certificate, or a port that does not speak TLS.
	ErrTLSHandshake = errors.New("tls handshake failed")
	// ErrEmptyResponse means the server closed the connection without a byte:
	// what ZooKeeper does for an unknown word, or a proxy that is not ZooKeeper.
	ErrEmptyResponse = errors.New("empty four-letter-word response")
)

const (
	notServingText   = "This ZooKeeper instance is not currently serving requests"
	notWhitelistText = " is not executed because it is not in the whitelist."
)

// Client sends four-letter words. The zero value talks plain TCP with the
// default read cap.
type Client struct {
	// TLS, when set, wraps the connection (ZooKeeper's secure client port,
	// served by the Netty connection factory).
	TLS *tls.Config
	// MaxResponseBytes overrides the read cap when positive.
	MaxResponseBytes int64
	// Resolver looks up member names; nil means the system's.
	Resolver *net.Resolver
}

// Do sends the four-letter word cmd to addr and returns the whole reply. The
// deadline of ctx bounds connect, write and read together. A refusal by the
// server is returned as ErrNotServing or ErrNotWhitelisted together with the
// raw reply.
func (c *Client) Do(ctx context.Context, addr, cmd string) ([]byte, error) {
	if len(cmd) != 4 {
		return nil, fmt.Errorf("four-letter word %q must be 4 bytes", cmd)
	}
	d := net.Dialer{Resolver: c.Resolver}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()

	// One deadline, set once, over everything that follows. The context can
	// also be cancelled early (a scrape abandoned by Prometheus): closing the
	// connection then unblocks the read at once.
	if deadline, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(deadline); err != nil {
			return nil, err
		}
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if c.TLS != nil {
		cfg := c.TLS
		if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
			// Verify against the host we dialled, as net/http does.
			cfg = cfg.Clone()
			cfg.ServerName, _, _ = net.SplitHostPort(addr)
		}
		tlsConn := tls.Client(conn, cfg)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, ctxErr(ctx, err)
			}
			return nil, fmt.Errorf("%w: %w", ErrTLSHandshake, err)
		}
		conn = tlsConn
	}

	if _, err := io.WriteString(conn, cmd); err != nil {
		return nil, ctxErr(ctx, err)
	}
	limit := c.MaxResponseBytes
	if limit <= 0 {
		limit = MaxResponseBytes
	}
	// Read one byte past the cap to tell "exactly the cap" from "more";
	// into a reused buffer, so a reply costs one allocation of its own
	// size, not the doublings of io.ReadAll (a thousand 3.8 members send
	// 20 MiB a scrape).
	buf := readBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	_, err = buf.ReadFrom(io.LimitReader(conn, limit+1))
	body := bytes.Clone(buf.Bytes())
	if body == nil {
		body = []byte{}
	}
	if buf.Cap() <= maxKeptBuffer { // a hostile 1 MiB reply is not kept
		readBuffers.Put(buf)
	}
	if err != nil {
		// A server that sends its answer and then resets the connection still
		// gave an answer; a partial reply cut by the deadline did not.
		if len(body) == 0 || isTimeout(err) {
			return body, ctxErr(ctx, err)
		}
	}
	if int64(len(body)) > limit {
		return body[:limit], ErrResponseTooLarge
	}
	if len(body) == 0 {
		return body, ErrEmptyResponse
	}
	return body, Refusal(body)
}

// readBuffers are the buffers replies are read into; maxKeptBuffer bounds
// what one keeps (a 3.9 leader's mntr is about 25 KiB).
var readBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxKeptBuffer = 256 << 10

// Refusal tells whether a reply is one of ZooKeeper's refusals, and which.
func Refusal(body []byte) error {
	trimmed := bytes.TrimSpace(body)
	switch {
	case bytes.HasPrefix(trimmed, []byte(notServingText)):
		return ErrNotServing
	case bytes.HasSuffix(trimmed, []byte(notWhitelistText)) && bytes.IndexByte(trimmed, '\n') < 0:
		return ErrNotWhitelisted
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ctxErr prefers the context's reason (deadline, cancel) over the socket's
// own, so callers can tell a hung member from a broken one with errors.Is.
func ctxErr(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%w: %v", ctxErr, err)
	}
	if isTimeout(err) {
		return fmt.Errorf("%w: %v", context.DeadlineExceeded, err)
	}
	return err
}
