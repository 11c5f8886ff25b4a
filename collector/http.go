package collector

import (
	"compress/gzip"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
)

// Handler serves /metrics (every configured ensemble) and /probe (one).
type Handler struct {
	Source  *config.Source
	Scraper *Scraper
	// Global is gathered with /metrics: build info, reload status, Go and
	// process metrics.
	Global   prometheus.Gatherer
	Defaults config.Defaults
	Logger   log.Logger
	// TimeoutOffset is taken off Prometheus' scrape timeout header so the
	// answer reaches Prometheus before it gives up.
	TimeoutOffset  time.Duration
	AllowAnyTarget bool
}

// scrapeTimeout bounds a member's deadline by the scrape's own.
func (h *Handler) scrapeTimeout(r *http.Request, timeout time.Duration) time.Duration {
	v := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds")
	if v == "" {
		return timeout
	}
	secs, err := strconv.ParseFloat(v, 64)
	if err != nil || secs <= 0 {
		return timeout
	}
	limit := time.Duration(secs*float64(time.Second)) - h.TimeoutOffset
	if limit < 100*time.Millisecond {
		limit = 100 * time.Millisecond
	}
	return min(timeout, limit)
}

func (h *Handler) target(r *http.Request, e config.Ensemble) Target {
	return TargetOf(e, h.scrapeTimeout(r, time.Duration(e.Timeout)))
}

// TargetOf is the poll of a configured ensemble, with a member deadline.
func TargetOf(e config.Ensemble, timeout time.Duration) Target {
	return Target{Name: e.Name, Members: e.Servers, Timeout: timeout, TLS: e.ClientTLS(), AdminPort: e.AdminPort, AdminScheme: e.AdminScheme,
		Discover: e.Discover}
}

// ServeMetrics polls every configured ensemble.
func (h *Handler) ServeMetrics(w http.ResponseWriter, r *http.Request) {
	cfg := h.Source.Get()
	targets := make([]Target, 0, len(cfg.Ensembles))
	for _, e := range cfg.Ensembles {
		targets = append(targets, h.target(r, e))
	}
	h.serve(w, r, targets, h.Global)
}

// ServeProbe polls one ensemble: ?target=NAME names a configured one,
// ?target=host:port[,host:port...] lists members. Members must be configured
// ones unless AllowAnyTarget, so the exporter cannot be used to reach hosts
// it was not meant to.
func (h *Handler) ServeProbe(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("target")
	if name == "" {
		http.Error(w, "target parameter is missing", http.StatusBadRequest)
		return
	}
	cfg := h.Source.Get()
	for _, e := range cfg.Ensembles {
		if e.Name == name {
			h.serve(w, r, []Target{h.target(r, e)}, nil)
			return
		}
	}
	members, err := config.ParseServers(name)
	if err != nil {
		http.Error(w, "target is neither a configured ensemble nor a list of host:port: "+err.Error(), http.StatusBadRequest)
		return
	}
	// Settings (timeout, TLS) come from the ensemble the first member belongs
	// to, else from the flags.
	e := config.Ensemble{Name: name, Servers: members, Timeout: config.Duration(h.Defaults.Timeout)}
	e.SetTLS(h.Defaults.TLS)
	var owner *config.Ensemble
	for i, m := range members {
		o := cfg.EnsembleOf(m.Address)
		if o == nil && !h.AllowAnyTarget {
			http.Error(w, "target "+m.Address+" is not a configured member (see --probe.allow-any-target)", http.StatusBadRequest)
			return
		}
		switch {
		case i == 0:
			owner = o
		case o != owner:
			owner = nil // members of several ensembles, or of none: no one name
		}
	}
	e.AdminPort, e.AdminScheme, e.Discover = h.Defaults.AdminPort, h.Defaults.AdminScheme, h.Defaults.Discover
	e.Name = probeName(members, owner)
	if owner != nil {
		e.Timeout = owner.Timeout
		e.CopyTLS(owner)
		e.AdminPort, e.AdminScheme, e.Discover = owner.AdminPort, owner.AdminScheme, owner.Discover
	}
	h.serve(w, r, []Target{h.target(r, e)}, nil)
}

// probeName is the ensemble label of an ad-hoc /probe list: the configured
// ensemble's name when every member belongs to it, else "probe-" and a
// short hash of the sorted members, stable whatever their order.
func probeName(members []config.Member, owner *config.Ensemble) string {
	if owner != nil {
		return owner.Name
	}
	addrs := make([]string, len(members))
	for i, m := range members {
		addrs[i] = m.Address
	}
	slices.Sort(addrs)
	h := fnv.New32a()
	h.Write([]byte(strings.Join(addrs, ",")))
	return fmt.Sprintf("probe-%08x", h.Sum32())
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, targets []Target, global prometheus.Gatherer) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(&Collector{Ctx: r.Context(), Scraper: h.Scraper, Targets: targets}); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var g prometheus.Gatherer = reg
	if global != nil {
		g = prometheus.Gatherers{global, reg}
	}
	handler := promhttp.HandlerFor(g, promhttp.HandlerOpts{
		// A series that slipped past the emitter's checks costs that series,
		// never the whole scrape.
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      promLogger{h.Logger},
		// Compressed below, faster than promhttp's default level.
		DisableCompression: true,
	})
	if !acceptsGzip(r) {
		handler.ServeHTTP(w, r)
		return
	}
	z := gzipPool.Get().(*gzip.Writer)
	defer gzipPool.Put(z)
	z.Reset(w)
	w.Header().Set("Content-Encoding", "gzip")
	w.Header().Add("Vary", "Accept-Encoding")
	handler.ServeHTTP(gzipResponse{ResponseWriter: w, w: z}, r)
	z.Close()
}

// gzipPool holds writers at BestSpeed: the exposition is repetitive text
// that compresses about tenfold even so, at a third of the CPU of the
// default level (which cost as much as building the metrics).
var gzipPool = sync.Pool{New: func() any {
	z, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return z
}}

type gzipResponse struct {
	http.ResponseWriter
	w io.Writer
}

func (g gzipResponse) Write(p []byte) (int, error) { return g.w.Write(p) }

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

type promLogger struct{ logger log.Logger }

func (l promLogger) Println(v ...any) {
	level.Error(l.logger).Log("msg", "Error gathering metrics", "err", v)
}
