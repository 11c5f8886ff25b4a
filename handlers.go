package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/zookeeper-exporter/zookeeper_exporter/collector"
	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
	"github.com/zookeeper-exporter/zookeeper_exporter/internal/exposition"
)

// Handler serves /metrics (every configured ensemble) and /probe (one): it
// polls (ensemble.Poller) and hands the results to the collectors.
type Handler struct {
	Source *config.Source
	Poller *ensemble.Poller
	// Names caches what the passthrough derives from mntr keys.
	Names *collector.Names
	// Limits bound what one member can add to a scrape (zero values: the
	// defaults).
	Limits collector.Limits
	// Global is gathered with /metrics: build info, reload status, Go and
	// process metrics (collector.Collect puts them beside the scrape's).
	Global prometheus.Gatherer
	Logger log.Logger
	// TimeoutOffset is taken off Prometheus' scrape timeout header so the
	// answer reaches Prometheus before it gives up.
	TimeoutOffset time.Duration
	// MaxWait is the longest a scrape waits for its polls, header or not
	// (0: until the members' deadlines): the answer must be written before
	// the server's write timeout, even after a reload lengthened them.
	MaxWait        time.Duration
	AllowAnyTarget bool

	// filters are the compiled patterns of recent requests (requestFilter).
	filtersMu sync.Mutex
	filters   map[string]*config.KeyFilter
}

// scrapeLimit is how long this scrape may wait for its polls: Prometheus'
// scrape timeout header less the offset (ok false without the header).
func (h *Handler) scrapeLimit(r *http.Request) (time.Duration, bool) {
	v := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds")
	if v == "" {
		return 0, false
	}
	secs, err := strconv.ParseFloat(v, 64)
	if err != nil || secs <= 0 || secs > 3600 {
		return 0, false
	}
	limit := time.Duration(secs*float64(time.Second)) - h.TimeoutOffset
	return max(limit, 100*time.Millisecond), true
}

func (h *Handler) target(e config.Ensemble) ensemble.Target { return ensemble.TargetOf(e) }

// ServeMetrics polls every configured ensemble.
func (h *Handler) ServeMetrics(w http.ResponseWriter, r *http.Request) {
	asked, err := h.requestChoice(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cfg := h.Source.Get()
	targets := make([]ensemble.Target, 0, len(cfg.Ensembles))
	choices := make([]collector.Choice, 0, len(cfg.Ensembles))
	for _, e := range cfg.Ensembles {
		targets = append(targets, h.target(e))
		choices = append(choices, choiceOf(e, asked))
	}
	h.serve(w, r, targets, choices, h.Global)
}

// choiceOf is what a scrape exposes of e: what the request asked, else
// what e's configuration says (passthrough:), else everything.
func choiceOf(e config.Ensemble, asked *collector.Choice) collector.Choice {
	if asked != nil {
		return *asked
	}
	c := collector.Choice{NoPassthrough: e.Passthrough.Off()}
	if f := e.Passthrough.Filter(); f != nil {
		c.Keys = f
	}
	return c
}

// The URL parameters that choose what a scrape exposes, as node_exporter's
// collect[]: collect[]=curated alone leaves the passthrough out,
// collect[]=passthrough keeps it; passthrough.include and
// passthrough.exclude (repeatable, anchored regexps over mntr keys) select
// its keys. Given, they replace what the configuration says, for every
// ensemble of the request.
const (
	collectParam     = "collect[]"
	includeParam     = "passthrough.include"
	excludeParam     = "passthrough.exclude"
	maxParamPatterns = 16
	maxPatternLength = 512
)

// requestChoice reads the parameters above: nil when there are none, an
// error (answered 400) when they are bad.
func (h *Handler) requestChoice(r *http.Request) (*collector.Choice, error) {
	q := r.URL.Query()
	collect, include, exclude := q[collectParam], q[includeParam], q[excludeParam]
	if collect == nil && include == nil && exclude == nil {
		return nil, nil
	}
	c := &collector.Choice{}
	if collect != nil {
		passthrough := false
		for _, v := range collect {
			switch v {
			case "curated":
			case "passthrough":
				passthrough = true
			default:
				return nil, fmt.Errorf("%s=%q: want curated or passthrough", collectParam, v)
			}
		}
		c.NoPassthrough = !passthrough
	}
	if include == nil && exclude == nil {
		return c, nil
	}
	if c.NoPassthrough {
		return nil, fmt.Errorf("%s and %s select passthrough keys: add %s=passthrough", includeParam, excludeParam, collectParam)
	}
	for _, list := range [][]string{include, exclude} {
		if len(list) > maxParamPatterns {
			return nil, fmt.Errorf("more than %d patterns in %s or %s", maxParamPatterns, includeParam, excludeParam)
		}
		for _, p := range list {
			if len(p) > maxPatternLength {
				return nil, fmt.Errorf("a pattern longer than %d bytes in %s or %s", maxPatternLength, includeParam, excludeParam)
			}
		}
	}
	f, err := h.requestFilter(include, exclude)
	if err != nil {
		return nil, err
	}
	if f != nil {
		c.Keys = f
	}
	return c, nil
}

// requestFilter compiles a request's patterns, or takes them from the
// last requests' (Prometheus asks the same URL every scrape, and a filter
// remembers its answers); a few dozen are kept.
func (h *Handler) requestFilter(include, exclude []string) (*config.KeyFilter, error) {
	key := strings.Join(include, "\x00") + "\x01" + strings.Join(exclude, "\x00")
	h.filtersMu.Lock()
	f, ok := h.filters[key]
	h.filtersMu.Unlock()
	if ok {
		return f, nil
	}
	f, err := config.NewKeyFilter("", include, exclude)
	if err != nil {
		// config names them include[i]; the parameter is passthrough.include.
		return nil, errors.New("passthrough." + err.Error())
	}
	h.filtersMu.Lock()
	if h.filters == nil || len(h.filters) >= maxRequestFilters {
		h.filters = map[string]*config.KeyFilter{}
	}
	h.filters[key] = f
	h.filtersMu.Unlock()
	return f, nil
}

const maxRequestFilters = 32

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
	// A target is one ensemble: an ensemble name or a handful of members,
	// never a payload to reflect or a thousand hosts to dial.
	if len(name) > maxTargetLength {
		http.Error(w, fmt.Sprintf("target is longer than %d bytes", maxTargetLength), http.StatusBadRequest)
		return
	}
	asked, err := h.requestChoice(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cfg := h.Source.Get()
	for _, e := range cfg.Ensembles {
		if e.Name == name {
			h.serve(w, r, []ensemble.Target{h.target(e)}, []collector.Choice{choiceOf(e, asked)}, nil)
			return
		}
	}
	members, err := config.ParseServers(name)
	if err != nil {
		http.Error(w, "target is neither a configured ensemble nor a list of host:port: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(members) > maxTargetMembers {
		http.Error(w, fmt.Sprintf("target lists %d members, more than %d", len(members), maxTargetMembers), http.StatusBadRequest)
		return
	}
	// Settings (timeout, TLS) come from the configured ensemble the
	// members belong to, else from the flags (TLS built at load).
	e, unconfigured := cfg.AdHoc(members)
	if len(unconfigured) > 0 && !h.AllowAnyTarget {
		http.Error(w, "target "+unconfigured[0]+" is not a configured member (see --probe.allow-any-target)", http.StatusBadRequest)
		return
	}
	h.serve(w, r, []ensemble.Target{h.target(e)}, []collector.Choice{choiceOf(e, asked)}, nil)
}

// The bounds of a /probe target: ZooKeeper ensembles have a few voters and
// some observers; 64 members of the longest addresses fit in the length.
const (
	maxTargetMembers = 64
	maxTargetLength  = maxTargetMembers * 64
)

// serve polls every target in parallel, under the scrape's own deadline
// (a member not heard from by then is down with reason timeout), and
// serves their metrics.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, targets []ensemble.Target, choices []collector.Choice, global prometheus.Gatherer) {
	results := make([]ensemble.Result, len(targets))
	limit, bounded := h.scrapeLimit(r)
	if h.MaxWait > 0 && (!bounded || h.MaxWait < limit) {
		limit, bounded = h.MaxWait, true
	}
	// The polls run under the ensembles' own member deadlines and are
	// shared; a scrape that must answer sooner waits only that long and
	// gets what the members said by then.
	ctx := r.Context()
	if bounded {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	// Each member's mntr is mapped as soon as its poll ends, while the
	// scrape waits for the slowest member (collector.Premap).
	pre := collector.NewPremap(choices, h.Names, h.Limits)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = h.Poller.PollTelling(ctx, t, pre.Heard(i, t.Name))
		}()
	}
	wg.Wait()
	h.logNoSlot(results)
	// collector.Collect, not a registry: the same families without the
	// registry's copy and check of every series (docs/performance.md).
	scrape := collector.CollectPremapped(results, pre, h.Logger, global)
	writeScrape(w, r, scrape, newPromLogger(h.Logger))
}

// writeScrape writes a scrape's families as promhttp.HandlerFor does
// (content negotiation, name[] filter, errors logged and the scrape
// carried on), but a few families at a time: the passthrough's families
// are built as they are written (collector.Part), so the whole scrape's
// series never sit in memory at once, and they are built and encoded on
// every CPU while the ones before them are compressed (exposition.Encode).
// client_golang's encoder writes every byte (expfmt). The gzip is ours,
// at BestSpeed.
func writeScrape(w http.ResponseWriter, r *http.Request, scrape *collector.Scrape, errs promLogger) {
	if err := scrape.Err(); err != nil {
		errs.Println("error gathering metrics:", err)
	}
	format := expfmt.NegotiateAccept(r.Header, expfmt.DefaultAcceptedFormats()...)
	w.Header().Add("Vary", "Accept")
	w.Header().Set("Content-Type", string(format))
	out := io.Writer(w)
	if acceptsGzip(r) {
		z := getGzip()
		defer putGzip(z)
		z.Reset(w)
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
		defer z.Close()
		out = z
	}
	parts := scrape.Parts()
	if names := r.URL.Query()["name[]"]; len(names) > 0 {
		only := make(map[string]bool, len(names))
		for _, n := range names {
			only[n] = true
		}
		parts = slices.DeleteFunc(parts, func(p collector.Part) bool { return !only[p.Name()] })
	}
	exposition.Encode(out, format, exposition.Families[*collector.Builder]{
		N:       len(parts),
		Series:  func(i int) int { return parts[i].Series() },
		Scratch: collector.NewBuilder,
		Build:   func(i int, b *collector.Builder) *dto.MetricFamily { return parts[i].Build(b) },
	}, runtime.GOMAXPROCS(0), func(err error) { errs.Println("error encoding and sending metric family:", err) })
}

// logNoSlot says in one line per scrape how many members were not polled
// for want of a poll slot.
func (h *Handler) logNoSlot(results []ensemble.Result) {
	n, first := 0, ""
	for _, r := range results {
		for _, s := range r.Members {
			if ensemble.NoSlot(s) {
				if n == 0 {
					first = s.Member.Address
				}
				n++
			}
		}
	}
	if n > 0 {
		level.Warn(h.Logger).Log("msg", "Members not polled: no free poll slot before their deadline (see --zookeeper.max-concurrency)", "members", n, "first", first)
	}
}

// gzipWriters keeps a few writers at BestSpeed for the next scrapes: the
// exposition is repetitive text that compresses about tenfold even so, at
// a third of the CPU of the default level. klauspost/compress, not the
// standard library: the same format and about the same size, in 2.7x less
// CPU (0.16 against 0.44 ms for the 170 KB of a 3+1 ensemble; gzip was 15%
// of the exporter's CPU there). A sync.Pool dropped the writers at every
// other GC (about 40% of scrapes built a new one), this list keeps them,
// and no more than a few concurrent scrapes need.
var gzipWriters = make(chan *gzip.Writer, 4)

func getGzip() *gzip.Writer {
	select {
	case z := <-gzipWriters:
		return z
	default:
		z, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
		return z
	}
}

func putGzip(z *gzip.Writer) {
	select {
	case gzipWriters <- z:
	default: // enough kept; this one goes to the GC
	}
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// promLogger logs what writeScrape reports, once per request: a client that
// goes away mid-answer makes it report every family it could not write.
type promLogger struct {
	logger log.Logger
	once   *sync.Once
}

func newPromLogger(logger log.Logger) promLogger { return promLogger{logger, &sync.Once{}} }

func (l promLogger) Println(v ...any) {
	l.once.Do(func() {
		level.Error(l.logger).Log("msg", "Error serving metrics (further errors of this request not logged)", "err", strings.TrimSpace(fmt.Sprintln(v...)))
	})
}

// maxWait is how long a scrape may wait for its polls: twice the longest
// member deadline of the configuration in force at start (or the flag's),
// as discovery polls the members it learns in a second round.
func maxWait(cfg *config.Config, flagTimeout time.Duration) time.Duration {
	longest := flagTimeout
	for _, e := range cfg.Ensembles {
		longest = max(longest, time.Duration(e.Timeout))
	}
	return 2 * longest
}

// newServer bounds every phase of a connection: a client that sends its
// headers slowly, or never reads, holds a file descriptor. A scrape's
// headers come in one packet, so 5 s is ample and a crowd of such clients
// holds descriptors for 5 s at most; writing gets the longest a scrape
// waits (maxWait) and a minute for the exposition and slow readers. The
// server's own errors (accept, TLS handshakes) go to the exporter's log.
func newServer(h http.Handler, maxWait time.Duration, logger log.Logger) *http.Server {
	return &http.Server{Handler: h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      maxWait + time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          stdlog.New(serverLog{logger}, "", 0),
	}
}

// serverLog writes what net/http reports as one line of the exporter's
// log (go-kit's stdlib adapter takes "http: Accept error: accept tcp
// addr:port" for a file name and a line).
type serverLog struct{ logger log.Logger }

func (l serverLog) Write(p []byte) (int, error) {
	level.Warn(l.logger).Log("msg", "HTTP server", "err", strings.TrimSpace(string(p)))
	return len(p), nil
}

// reloadHandler serves POST /-/reload (with --web.enable-lifecycle). A
// browser's cross-origin request (a form on another site) is refused; the
// answer to a failed reload shows no path, errno or value from the file:
// the log says why.
func reloadHandler(source *config.Source) http.Handler {
	return http.NewCrossOriginProtection().Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if err := source.Reload(); err != nil {
			http.Error(w, "failed to reload the configuration; the exporter's log says why", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "Reloaded")
	}))
}

// limitRequests serves at most n requests at once (0: no limit) and
// answers the others 503 at once, as node_exporter's --web.max-requests
// does: a crowd of scrapes must not cost memory without end.
func limitRequests(n int) func(http.Handler) http.Handler {
	if n <= 0 {
		return func(h http.Handler) http.Handler { return h }
	}
	slots := make(chan struct{}, n)
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case slots <- struct{}{}:
				defer func() { <-slots }()
				h.ServeHTTP(w, r)
			default:
				http.Error(w, fmt.Sprintf("too many scrapes at once (--web.max-requests=%d)", n), http.StatusServiceUnavailable)
			}
		})
	}
}
