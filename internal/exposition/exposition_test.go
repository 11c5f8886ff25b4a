package exposition

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"
)

// families returns n gauge families, family i with sizes(i) series.
func families(n int, sizes func(int) int) []*dto.MetricFamily {
	fams := make([]*dto.MetricFamily, n)
	for i := range fams {
		f := &dto.MetricFamily{
			Name: proto.String(fmt.Sprintf("zookeeper_f%04d", i)),
			Help: proto.String(fmt.Sprintf("Family %d, with \"quotes\" and a \\ in its help.", i)),
			Type: dto.MetricType_GAUGE.Enum(),
		}
		for s := range sizes(i) {
			f.Metric = append(f.Metric, &dto.Metric{
				Label: []*dto.LabelPair{
					{Name: proto.String("ensemble"), Value: proto.String("prod")},
					{Name: proto.String("server"), Value: proto.String(fmt.Sprintf("10.0.0.%d:2181", s))},
				},
				Gauge: &dto.Gauge{Value: proto.Float64(float64(i*1000 + s))},
			})
		}
		fams[i] = f
	}
	return fams
}

// sequential is what one encoder writing every family gives.
func sequential(t *testing.T, fams []*dto.MetricFamily, format expfmt.Format) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, format)
	for _, f := range fams {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func of(fams []*dto.MetricFamily) Families[*int] {
	return Families[*int]{
		N:       len(fams),
		Series:  func(i int) int { return len(fams[i].Metric) },
		Scratch: func() *int { return new(int) },
		Build:   func(i int, _ *int) *dto.MetricFamily { return fams[i] },
	}
}

// TestEncodeMatchesOneEncoder: the bytes are those of one encoder, in
// every format, whatever the batching and the number of workers.
func TestEncodeMatchesOneEncoder(t *testing.T) {
	formats := map[string]expfmt.Format{
		"text":        expfmt.NewFormat(expfmt.TypeTextPlain),
		"openmetrics": expfmt.NewFormat(expfmt.TypeOpenMetrics),
		"protobuf":    expfmt.NewFormat(expfmt.TypeProtoDelim),
	}
	shapes := map[string][]*dto.MetricFamily{
		"none":             nil,
		"one":              families(1, func(int) int { return 3 }),
		"many small (3+1)": families(700, func(int) int { return 4 }),
		"large (1,000)":    families(40, func(int) int { return 1000 }),
		"mixed":            families(60, func(i int) int { return 1 + (i*37)%900 }),
	}
	for fname, format := range formats {
		for sname, fams := range shapes {
			want := sequential(t, fams, format)
			for _, workers := range []int{0, 1, 2, 7} {
				t.Run(fmt.Sprintf("%s/%s/%d workers", fname, sname, workers), func(t *testing.T) {
					var got bytes.Buffer
					Encode(&got, format, of(fams), workers, func(err error) { t.Errorf("unexpected error: %v", err) })
					if !bytes.Equal(got.Bytes(), want) {
						t.Fatalf("%d bytes, want the %d of one encoder", got.Len(), len(want))
					}
				})
			}
		}
	}
}

// TestEncodeScratchPerWorker: a worker's scratch space is its own, and a
// family is encoded before its worker builds the next in the same space.
func TestEncodeScratchPerWorker(t *testing.T) {
	fams := families(500, func(i int) int { return 1 + i%3 })
	want := sequential(t, fams, expfmt.NewFormat(expfmt.TypeTextPlain))
	type scratch struct {
		busy bool
		f    dto.MetricFamily
	}
	var got bytes.Buffer
	Encode(&got, expfmt.NewFormat(expfmt.TypeTextPlain), Families[*scratch]{
		N:       len(fams),
		Series:  func(i int) int { return len(fams[i].Metric) },
		Scratch: func() *scratch { return new(scratch) },
		Build: func(i int, s *scratch) *dto.MetricFamily {
			if s.busy {
				t.Error("scratch shared by two workers")
			}
			s.busy = true
			// Overwritten by the next Build: it must be encoded by then.
			s.f = dto.MetricFamily{Name: fams[i].Name, Help: fams[i].Help, Type: fams[i].Type, Metric: fams[i].Metric}
			s.busy = false
			return &s.f
		},
	}, 4, func(err error) { t.Errorf("unexpected error: %v", err) })
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatal("output differs from one encoder's")
	}
}

// failingWriter accepts n writes, then fails every one.
type failingWriter struct {
	n, writes int
	buf       bytes.Buffer
}

func (w *failingWriter) Write(p []byte) (int, error) {
	w.writes++
	if w.writes > w.n {
		return 0, errors.New("connection reset by peer")
	}
	return w.buf.Write(p)
}

// TestEncodeStopsAtFailedWrite: a client gone mid-scrape is one error,
// the families after it are not built, and Encode returns.
func TestEncodeStopsAtFailedWrite(t *testing.T) {
	fams := families(100, func(int) int { return 600 })
	var built atomic.Int64
	fs := of(fams)
	build := fs.Build
	fs.Build = func(i int, s *int) *dto.MetricFamily {
		built.Add(1)
		return build(i, s)
	}
	w := &failingWriter{n: 3}
	var errs []error
	Encode(w, expfmt.NewFormat(expfmt.TypeTextPlain), fs, 2, func(err error) { errs = append(errs, err) })
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "reset by peer") {
		t.Fatalf("errors %v, want the one failed write", errs)
	}
	if w.writes != 4 {
		t.Errorf("%d writes, want 4: none after the failed one", w.writes)
	}
	// At most the runs in flight when the write failed are built.
	if n := built.Load(); n > 20 {
		t.Errorf("%d of %d families built after the client was gone", n, len(fams))
	}
}

// TestEncodePanicIsAnError: a family whose build panics is an error and
// is left out; the others are written and the process goes on.
func TestEncodePanicIsAnError(t *testing.T) {
	fams := families(50, func(int) int { return 2 })
	fs := of(fams)
	build := fs.Build
	fs.Build = func(i int, s *int) *dto.MetricFamily {
		if i == 17 {
			var nilMap map[string]int
			nilMap["boom"]++
		}
		return build(i, s)
	}
	var got bytes.Buffer
	var errs []error
	Encode(&got, expfmt.NewFormat(expfmt.TypeTextPlain), fs, 2, func(err error) { errs = append(errs, err) })
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "family 17") {
		t.Fatalf("errors %v, want one for family 17", errs)
	}
	want := sequential(t, append(fams[:17:17], fams[18:]...), expfmt.NewFormat(expfmt.TypeTextPlain))
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatal("the other families are not written as one encoder writes them")
	}
}
