package config

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
)

// Source hands out the current configuration and reloads it from its file.
// Readers never block: the configuration is swapped atomically.
type Source struct {
	path     string
	defaults Defaults
	logger   log.Logger
	current  atomic.Pointer[Config]
	mu       sync.Mutex // serialises reloads

	reloadOK   prometheus.Gauge
	reloadTime prometheus.Gauge
}

// NewStatic serves a fixed configuration (built from flags); Reload is a
// successful no-op.
func NewStatic(cfg *Config, logger log.Logger) *Source {
	s := newSource("", Defaults{}, logger)
	s.current.Store(cfg)
	s.reloadOK.Set(1)
	s.reloadTime.SetToCurrentTime()
	return s
}

// NewFile loads path now and on every Reload. The first load must succeed.
func NewFile(path string, d Defaults, logger log.Logger) (*Source, error) {
	s := newSource(path, d, logger)
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

func newSource(path string, d Defaults, logger log.Logger) *Source {
	return &Source{
		path: path, defaults: d, logger: logger,
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "zookeeper_exporter_config_last_reload_successful",
			Help: "1 when the last configuration reload succeeded.",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "zookeeper_exporter_config_last_reload_success_timestamp_seconds",
			Help: "Time of the last successful configuration reload, in seconds since the epoch.",
		}),
	}
}

// Get returns the configuration in force.
func (s *Source) Get() *Config { return s.current.Load() }

// Reload rereads the file. On error the configuration in force stays and
// the reload metric drops to 0.
func (s *Source) Reload() error {
	if s.path == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg, err := Load(s.path, s.defaults)
	if err != nil {
		s.reloadOK.Set(0)
		// At start nothing is in force: the caller says the file is invalid.
		if s.current.Load() != nil {
			level.Error(s.logger).Log("msg", "Configuration not reloaded, keeping the one in force", "file", s.path, "err", err)
		}
		return err
	}
	s.current.Store(cfg)
	s.reloadOK.Set(1)
	s.reloadTime.Set(float64(time.Now().UnixNano()) / 1e9)
	level.Info(s.logger).Log("msg", "Configuration loaded", "file", s.path, "ensembles", len(cfg.Ensembles))
	return nil
}

// Describe and Collect make the reload metrics a collector.
func (s *Source) Describe(ch chan<- *prometheus.Desc) {
	s.reloadOK.Describe(ch)
	s.reloadTime.Describe(ch)
}

// Collect implements prometheus.Collector.
func (s *Source) Collect(ch chan<- prometheus.Metric) {
	s.reloadOK.Collect(ch)
	s.reloadTime.Collect(ch)
}
