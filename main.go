// Command zookeeper_exporter watches ZooKeeper ensembles: on every scrape it
// polls every member at once over four-letter words and derives quorum,
// leaders and failure tolerance from that one snapshot.
package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"
	sloggokit "github.com/tjhop/slog-gokit"

	"github.com/zookeeper-exporter/zookeeper_exporter/collector"
	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
	"github.com/zookeeper-exporter/zookeeper_exporter/internal/heapfloor"
	"github.com/zookeeper-exporter/zookeeper_exporter/status"
)

const exporterName = "zookeeper_exporter"

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	app := kingpin.New(exporterName, "Prometheus exporter for Apache ZooKeeper ensembles: polls every member at once and derives quorum health.")
	var (
		serversSet   bool
		ensembleSet  bool
		servers      = app.Flag("zookeeper.servers", "Members of the ensemble: comma- or space-separated host[:port][:observer] (Apigee's ZK_HOSTS works as is; IPv6 as [::1]:2181). Not with --config.file.").Default("localhost:2181").IsSetByUser(&serversSet).String()
		ensembleName = app.Flag("zookeeper.ensemble", "Value of the ensemble label for --zookeeper.servers. Not with --config.file.").Default("default").IsSetByUser(&ensembleSet).String()
		timeout      = durationFlag(app, "zookeeper.timeout", "Deadline for one member's poll (all its commands).", "2s")
		offset       = durationFlag(app, "zookeeper.timeout-offset", "Taken off Prometheus' scrape timeout (X-Prometheus-Scrape-Timeout-Seconds) to bound the member deadline.", "0.5s")
		maxConc      = app.Flag("zookeeper.max-concurrency", "Members polled at once across all ensembles (each holds up to 3 connections at once: srvr, mntr and conf); a member waiting for a slot past its deadline is reported down. 0: no bound.").Default(strconv.Itoa(ensemble.DefaultMaxConcurrency)).Int()
		discover     = app.Flag("zookeeper.discover", "Treat the servers as seeds: learn every member (voters, observers) from the ensemble's own configuration (conf, else /zookeeper/config) and poll them all.").Default("false").Bool()
		discoverMax  = app.Flag("zookeeper.discover.max-members", "With discovery, poll at most this many members of an ensemble (the listed servers always); the others count in the arithmetic, unpolled.").Default(strconv.Itoa(config.DefaultDiscoverMax)).Int()
		adminPort    = app.Flag("zookeeper.admin-port", "The members' AdminServer port (ZooKeeper's default 8080), read where the 4lw whitelist refuses mntr or conf; 0: never.").Default("0").Int()
		adminScheme  = enumFlag(app.Flag("zookeeper.admin-scheme", "http or https (with the --zookeeper.tls.* settings) for the AdminServer."), "zookeeper.admin-scheme", "http", "http", "https")
		caFile       = app.Flag("zookeeper.tls.ca-file", "CA certificate to verify ZooKeeper's secure client port with.").String()
		certFile     = app.Flag("zookeeper.tls.cert-file", "Client certificate for ZooKeeper.").String()
		keyFile      = app.Flag("zookeeper.tls.key-file", "Key of the client certificate.").String()
		serverName   = app.Flag("zookeeper.tls.server-name", "Server name expected in ZooKeeper's certificate.").String()
		insecure     = app.Flag("zookeeper.tls.insecure-skip-verify", "Do not verify ZooKeeper's certificate.").Default("false").Bool()
		probe        = app.Flag("zookeeper.client-probe", "Open a client session against each member alone every --zookeeper.client-probe.interval and read a znode (zookeeper_client_probe_*): what clients feel. One connection per member per probe.").Default("false").Bool()
		probeZnode   = app.Flag("zookeeper.client-probe.znode", "The znode the client probe reads.").Default(config.DefaultClientProbeZnode).String()
		probeEvery   = durationFlag(app, "zookeeper.client-probe.interval", "The least time between two probes of one member (set it to the scrape interval); in between, the last result is reported.", config.DefaultClientProbeInterval.String())
		canaryZnode  = app.Flag("zookeeper.client-probe.canary-znode", "With the client probe, also set this znode (created if missing, nothing else written) once per interval through the ensemble: proof that writes commit (zookeeper_canary_write_*). Empty: no write.").String()
		digestFile   = app.Flag("zookeeper.client-probe.digest-file", "File holding user:password for ZooKeeper's digest authentication of the client probe (never on the command line).").String()
		vantage      = app.Flag("exporter.vantage", "Where this exporter watches from (zookeeper_ensemble_vantage_info{vantage}), so exporters in several data centres can be compared; default the host name.").Default(hostname()).String()
		heapFloor    = app.Flag("exporter.heap-floor", "Lowest heap goal of the Go garbage collector: a small heap is collected less often (fewer collections a scrape), for at most this much memory (docs/performance.md). 0, or GOGC set: Go's own pacing.").Default("16MiB").Bytes()
		configFile   = app.Flag("config.file", "YAML file listing ensembles; the --zookeeper.* flags are then defaults.").String()
		configCheck  = app.Flag("config.check", "Check the configuration and exit 0 (valid) or 1.").Default("false").Bool()
		metricsPath  = app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
		allowAny     = app.Flag("probe.allow-any-target", "Let /probe poll members that are not configured.").Default("false").Bool()
		lifecycle    = app.Flag("web.enable-lifecycle", "Serve POST /-/reload (SIGHUP always reloads).").Default("false").Bool()
		maxRequests  = app.Flag("web.max-requests", "Scrapes (/metrics and /probe) served at once; more are answered 503 at once. 0: no limit.").Default("40").Int()
		logLevel     = enumFlag(app.Flag("log.level", "Only log messages with the given severity or above: debug, info, warn, error."), "log.level", "info", "debug", "info", "warn", "error")
		logFormat    = enumFlag(app.Flag("log.format", "Output format of log messages: logfmt or json."), "log.format", "logfmt", "logfmt", "json")
		webFlags     = kingpinflag.AddFlags(app, ":9141")
		statusCmd    = app.Command("status", "Poll the ensembles once and print their health; exit 0 healthy, 1 at risk or unsafe, 2 quorum lost or unreachable.")
		output       = enumFlag(statusCmd.Flag("output", "table (for people) or json (for scripts)."), "output", "table", "table", "json")
		member       = statusCmd.Flag("member", "Answer only: may this member (host:port, as configured) be stopped now? Exit 0 yes, 1 no.").String()
		plan         = statusCmd.Flag("plan", "Print the rolling-restart order: observers, then followers, the leader last, with the reason for each (json: restart_order). Exit 0 the first step may go now, 1 it must wait, 2 quorum lost.").Default("false").Bool()
		wait         = statusCmd.Flag("wait", "Poll until the ensemble is whole (every member serving, in sync and caught up with the leader, one membership, full failure tolerance), printing what is missing. Exit 0 whole, 1 at --wait.timeout, 2 quorum lost for 30s.").Default("false").Bool()
		waitTimeout  = durationFlag(statusCmd, "wait.timeout", "How long --wait waits.", "10m")
	)
	// What one member may add to a scrape (collector.Limits).
	limits := collector.DefaultLimits()
	app.Flag("collector.max-series-per-member", "Passthrough series one member may add to a scrape; the rest are dropped and counted (zookeeper_member_series_dropped).").Default(strconv.Itoa(limits.MaxSeriesPerMember)).IntVar(&limits.MaxSeriesPerMember)
	app.Flag("collector.max-series-per-family", "Label sets one member may give one passthrough family (per-namespace, per-server summaries).").Default(strconv.Itoa(limits.MaxSeriesPerFamily)).IntVar(&limits.MaxSeriesPerFamily)
	app.Flag("collector.max-name-length", "Longest mntr key (bytes) a member may name a series with.").Default(strconv.Itoa(limits.MaxNameLength)).IntVar(&limits.MaxNameLength)
	app.Flag("collector.max-label-value-length", "Longest label value (bytes) from a member.").Default(strconv.Itoa(limits.MaxLabelValueLength)).IntVar(&limits.MaxLabelValueLength)
	app.Flag("collector.max-config-servers", "Server lines of one member's conf exposed as member_config_server_info (and unwatched servers as ensemble_server_watched).").Default(strconv.Itoa(limits.MaxConfigServers)).IntVar(&limits.MaxConfigServers)
	app.Command("serve", "Serve metrics over HTTP (the default).").Default()
	app.Version(version.Print(exporterName))
	app.HelpFlag.Short('h')
	command, err := app.Parse(args)
	if err == nil && *heapFloor < 0 {
		err = fmt.Errorf("--exporter.heap-floor must not be negative, got %v", *heapFloor)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", exporterName, err)
		return 1
	}
	if command == statusCmd.FullCommand() && *logLevel == "info" {
		*logLevel = "warn" // the table is the output; info lines are noise
	}
	base := newLogger(*logFormat, *logLevel)
	// "time", as exporter-toolkit's slog lines write it: one key for
	// every line of the log.
	logger := log.With(base, "time", log.DefaultTimestampUTC, "caller", log.DefaultCaller)

	defaults := config.Defaults{Timeout: *timeout, AdminPort: *adminPort, AdminScheme: *adminScheme, Discover: *discover, DiscoverMax: *discoverMax,
		ClientProbe: *probe, ClientProbeZnode: *probeZnode, ClientProbeInterval: *probeEvery, CanaryZnode: *canaryZnode, DigestFile: *digestFile, Vantage: *vantage}
	if *caFile != "" || *certFile != "" || *keyFile != "" || *serverName != "" || *insecure {
		defaults.TLS = &config.TLS{CAFile: *caFile, CertFile: *certFile, KeyFile: *keyFile, ServerName: *serverName, InsecureSkipVerify: *insecure}
	}
	var source *config.Source
	if *configFile != "" && (serversSet || ensembleSet) {
		// Said, not ignored: the file lists the ensembles.
		level.Error(logger).Log("msg", "Invalid configuration", "err", "--zookeeper.servers and --zookeeper.ensemble do not go with --config.file: list the ensembles in the file")
		return 1
	}
	if *configFile != "" {
		s, err := config.NewFile(*configFile, defaults, logger)
		if err != nil {
			level.Error(logger).Log("msg", "Invalid configuration", "err", err)
			return 1
		}
		source = s
	} else {
		cfg, err := config.FromFlags(*ensembleName, *servers, defaults)
		if err != nil {
			level.Error(logger).Log("msg", "Invalid configuration", "err", err)
			return 1
		}
		source = config.NewStatic(cfg, logger)
	}
	if command == statusCmd.FullCommand() {
		if n := btoi(*member != "") + btoi(*plan) + btoi(*wait); n > 1 {
			fmt.Fprintf(os.Stderr, "%s: --member, --plan and --wait are separate questions: ask one at a time\n", exporterName)
			return 1
		}
		return status.Run(os.Stdout, source.Get(), ensemble.NewPoller(logger, *maxConc),
			status.Options{Output: *output, Member: *member, Plan: *plan, Wait: *wait, WaitTimeout: *waitTimeout})
	}
	if *configCheck {
		level.Info(logger).Log("msg", "Configuration is valid", "ensembles", len(source.Get().Ensembles))
		return 0
	}
	level.Info(logger).Log("msg", "Starting "+exporterName, "version", version.Info(), "ensembles", len(source.Get().Ensembles))
	if os.Getenv("GOGC") == "" { // the operator's own setting wins
		heapfloor.Start(uint64(*heapFloor))
	}

	global := prometheus.NewRegistry()
	global.MustRegister(versioncollector.NewCollector(exporterName), source,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	handler := &Handler{Source: source, Poller: ensemble.NewPoller(logger, *maxConc), Names: collector.NewNames(0), Limits: limits, Global: global,
		Logger: logger, TimeoutOffset: *offset, AllowAnyTarget: *allowAny, MaxWait: maxWait(source.Get(), *timeout)}
	scrapes := limitRequests(*maxRequests)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			source.Reload()
		}
	}()

	mux := http.NewServeMux()
	mux.Handle(*metricsPath, scrapes(http.HandlerFunc(handler.ServeMetrics)))
	mux.Handle("/probe", scrapes(http.HandlerFunc(handler.ServeProbe)))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "Healthy") })
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "Ready") })
	if *lifecycle {
		mux.Handle("POST /-/reload", reloadHandler(source))
	}
	if *metricsPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "ZooKeeper Exporter",
			Description: "Prometheus exporter for Apache ZooKeeper ensembles",
			Version:     version.Info(),
			Links: []web.LandingLinks{
				{Address: *metricsPath, Text: "Metrics"},
			},
			// No ensemble named here: the page outlives reloads.
			ExtraHTML: "<p>One ensemble: <code>/probe?target=NAME</code> (a configured ensemble) or <code>/probe?target=host:port,host:port</code>.</p>",
			// No pprof handlers are served.
			Profiling: "false",
		})
		if err != nil {
			level.Error(logger).Log("msg", "Landing page", "err", err)
			return 1
		}
		mux.Handle("/", landing)
	}

	if err := web.ListenAndServe(newServer(mux, handler.MaxWait, logger), webFlags, slog.New(sloggokit.NewGoKitHandler(base, nil))); err != nil {
		level.Error(logger).Log("msg", "HTTP server stopped", "err", err)
		return 1
	}
	return 0
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// durationFlag is a duration flag whose parse error names the flag
// (kingpin's own says only "time: invalid duration").
func durationFlag(app interface {
	Flag(name, help string) *kingpin.FlagClause
}, name, help, def string) *time.Duration {
	d := new(time.Duration)
	app.Flag(name, help).Default(def).SetValue(&namedDuration{name: name, d: d})
	return d
}

type namedDuration struct {
	name string
	d    *time.Duration
}

func (n *namedDuration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("--%s: invalid duration %q (want e.g. 2s or 500ms)", n.name, s)
	}
	*n.d = v
	return nil
}

func (n *namedDuration) String() string { return n.d.String() }

// enumFlag is a flag with a fixed set of values whose parse error names
// the flag (kingpin's own says only "enum value must be one of ...").
func enumFlag(f *kingpin.FlagClause, name, def string, values ...string) *string {
	e := &namedEnum{name: name, values: values, v: new(string)}
	f.Default(def).SetValue(e)
	return e.v
}

type namedEnum struct {
	name   string
	values []string
	v      *string
}

func (n *namedEnum) Set(s string) error {
	if !slices.Contains(n.values, s) {
		return fmt.Errorf("--%s: %q is not one of %s", n.name, s, strings.Join(n.values, ", "))
	}
	*n.v = s
	return nil
}

func (n *namedEnum) String() string { return *n.v }

// hostname is the default vantage: where the exporter runs.
func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return h
}

func newLogger(format, lvl string) log.Logger {
	var logger log.Logger
	if format == "json" {
		logger = log.NewJSONLogger(log.NewSyncWriter(os.Stderr))
	} else {
		logger = log.NewLogfmtLogger(log.NewSyncWriter(os.Stderr))
	}
	// The slog bridge adds its own time and caller; main adds them for go-kit.
	return level.NewFilter(logger, level.Allow(level.ParseDefault(lvl, level.InfoValue())))
}
