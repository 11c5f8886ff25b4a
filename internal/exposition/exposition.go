// Package exposition writes a scrape's metric families through
// client_golang's encoders (expfmt), building and encoding several
// families at once while the ones before them are written.
//
// A family's encoding does not depend on the families before it, so each
// can be encoded into a buffer of its own and the buffers written in
// order: the bytes are those of one encoder writing every family. Written
// one after the other, building a family, encoding it and compressing it
// (the caller's writer is usually a gzip stream) take their sum; here the
// compression of one family runs beside the building and encoding of the
// next ones, on as many goroutines as asked (docs/performance.md).
package exposition

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Families are the families to write, in order: N of them, family i
// built by Build(i, s) in a worker's scratch space s (Scratch gives each
// worker its own; Build may reuse it from one family to the next: a
// family is encoded before its worker builds another). Series(i) is how
// many series family i has.
type Families[S any] struct {
	N       int
	Series  func(i int) int
	Scratch func() S
	Build   func(i int, s S) *dto.MetricFamily
}

// batchSeries is how many series a worker takes at a time, at least:
// families of a few series each (a small ensemble's, one a mntr key) are
// taken many at once, as a hand-off to a worker costs about as much as
// encoding a few series.
const batchSeries = 512

// Encode writes fs to w in order, in format, and closes the format
// (OpenMetrics' "# EOF"). Up to workers runs of families are built and
// encoded at once. At most 2*workers encoded runs wait to be written, so
// the memory held is a few families', not the scrape's. onErr is told
// each family that does not encode and the first write that fails (after
// a failed write, only the runs already handed out are built).
func Encode[S any](w io.Writer, format expfmt.Format, fs Families[S], workers int, onErr func(error)) {
	workers = max(workers, 1)
	type job struct {
		from, to int // families [from, to)
		buf      *bytes.Buffer
		errs     []error
		done     chan struct{}
	}
	work := make(chan *job)
	order := make(chan *job, 2*workers)
	stop := make(chan struct{}) // the writer has failed: build no more
	go func() {
		defer close(order)
		defer close(work)
		for from := 0; from < fs.N; {
			to, series := from, 0
			for to < fs.N && (to == from || series < batchSeries) {
				series += fs.Series(to)
				to++
			}
			j := &job{from: from, to: to, buf: getBuffer(), done: make(chan struct{})}
			from = to
			select {
			case order <- j:
			case <-stop:
				putBuffer(j.buf)
				return
			}
			work <- j
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := fs.Scratch()
			for j := range work {
				enc := expfmt.NewEncoder(j.buf, format)
				for i := j.from; i < j.to; i++ {
					if err := encodeOne(enc, j.buf, i, s, fs.Build); err != nil {
						j.errs = append(j.errs, err)
					}
				}
				close(j.done)
			}
		}()
	}
	failed := false
	for j := range order {
		<-j.done
		for _, err := range j.errs {
			onErr(err)
		}
		if !failed && j.buf.Len() > 0 {
			if _, err := w.Write(j.buf.Bytes()); err != nil {
				onErr(err)
				failed = true
				close(stop)
			}
		}
		putBuffer(j.buf)
	}
	wg.Wait()
	if !failed {
		closeFormat(w, format, onErr)
	}
}

// encodeOne builds family i and encodes it onto buf. A build that panics
// is the family's error, and what it wrote is taken back: on the
// handler's own goroutine net/http would have recovered the panic, and a
// worker's panic would end the process.
func encodeOne[S any](enc expfmt.Encoder, buf *bytes.Buffer, i int, s S, build func(int, S) *dto.MetricFamily) (err error) {
	mark := buf.Len()
	defer func() {
		if r := recover(); r != nil {
			buf.Truncate(mark)
			err = fmt.Errorf("building metric family %d: %v", i, r)
		}
	}()
	return enc.Encode(build(i, s))
}

// closeFormat writes what the format ends with, if anything.
func closeFormat(w io.Writer, format expfmt.Format, onErr func(error)) {
	if c, ok := expfmt.NewEncoder(w, format).(expfmt.Closer); ok {
		if err := c.Close(); err != nil {
			onErr(err)
		}
	}
}

// A family's encoding is kept if it is at most maxKept bytes; the few
// families larger than that (at a thousand members, a summary's is a few
// MB) get a buffer of their own, not one held by the pool for ever.
const maxKept = 1 << 20

var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuffer() *bytes.Buffer { return buffers.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b.Cap() > maxKept {
		return
	}
	b.Reset()
	buffers.Put(b)
}
