// Package config holds the ensembles to watch: from flags (one ensemble) or
// from a YAML file (many), decoded strictly so a typo is an error, not a
// silently ignored key.
package config

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is every ensemble the exporter watches.
type Config struct {
	Ensembles []Ensemble `yaml:"ensembles"`

	// defaults are the flags' settings, with their TLS built at load
	// time: an ad-hoc /probe list of unconfigured members takes them.
	defaults Ensemble
}

// Ensemble is one ZooKeeper ensemble: its members are polled together and
// give one snapshot.
type Ensemble struct {
	Name     string   `yaml:"name"`
	Servers  []Member `yaml:"servers"`
	Timeout  Duration `yaml:"timeout"`
	Discover bool     `yaml:"discover"`
	// DiscoverMax caps the members discovery polls beyond the servers
	// listed: a hostile conf must not make the exporter poll thousands.
	DiscoverMax int  `yaml:"discover_max_members"`
	TLS         *TLS `yaml:"tls"`
	// AdminPort, when set, is the members' AdminServer port, read where the
	// 4lw whitelist refuses mntr or conf. AdminScheme: http (default) or https
	// (with the tls settings).
	AdminPort   int    `yaml:"admin_port"`
	AdminScheme string `yaml:"admin_scheme"`
	// ClientProbe opens a client session per member each ClientProbeInterval
	// and reads ClientProbeZnode; CanaryZnode, when set, is written too.
	// DigestFile holds "user:password" for the digest scheme: credentials
	// never stand in this file.
	ClientProbe         bool     `yaml:"client_probe"`
	ClientProbeZnode    string   `yaml:"client_probe_znode"`
	ClientProbeInterval Duration `yaml:"client_probe_interval"`
	CanaryZnode         string   `yaml:"canary_znode"`
	DigestFile          string   `yaml:"digest_credentials_file"`
	// Vantage names where the exporter watches this ensemble from (the
	// flag --exporter.vantage, by default the host name).
	Vantage string `yaml:"vantage"`

	// digest is DigestFile's content, read at load time.
	digest []byte

	// Passthrough chooses the mntr keys exposed beyond the curated set
	// (nil: all of them).
	Passthrough *Passthrough `yaml:"passthrough"`

	// tlsConfig is TLS built once at load time, so a scrape does not read
	// certificate files.
	tlsConfig *tls.Config
}

// Digest is the digest credentials ("user:password"), nil without.
func (e Ensemble) Digest() []byte { return e.digest }

// Defaults of the client probe.
const (
	DefaultClientProbeZnode    = "/zookeeper/config"
	DefaultClientProbeInterval = 15 * time.Second
)

// checkZnode refuses what is not a ZooKeeper path.
func checkZnode(key, path string) error {
	if !strings.HasPrefix(path, "/") || (len(path) > 1 && strings.HasSuffix(path, "/")) || strings.Contains(path, "//") || strings.ContainsRune(path, 0) {
		return fmt.Errorf("%s %q: want an absolute znode path such as /zookeeper/config", key, path)
	}
	return nil
}

// readDigest reads a digest credentials file: one line "user:password".
func readDigest(path string) ([]byte, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("digest_credentials_file: %w", err)
	}
	line := strings.TrimRight(string(data), "\r\n")
	user, pass, ok := strings.Cut(line, ":")
	if !ok || user == "" || pass == "" || strings.ContainsAny(line, "\r\n") {
		// The content is never shown: it is a secret.
		return nil, fmt.Errorf("digest_credentials_file %s: want one line user:password", path)
	}
	return []byte(line), nil
}

// ClientTLS is the TLS configuration towards the members, nil for plain TCP.
func (e Ensemble) ClientTLS() *tls.Config { return e.tlsConfig }

// SetTLS sets and builds the TLS settings (nil: plain TCP); an error leaves
// them unset. A YAML `tls: {}` block means TLS with the system's CAs.
func (e *Ensemble) SetTLS(t *TLS) error {
	if t == nil {
		e.TLS, e.tlsConfig = nil, nil
		return nil
	}
	built, err := t.Build()
	if err != nil {
		return err
	}
	e.TLS, e.tlsConfig = t, built
	return nil
}

func checkAdmin(port int, scheme string) error {
	if port < 0 || port > 65535 {
		return fmt.Errorf("admin_port %d is not a port", port)
	}
	if scheme != "" && scheme != "http" && scheme != "https" {
		return fmt.Errorf("admin_scheme %q: want http or https", scheme)
	}
	return nil
}

// EnsembleOf returns the configured ensemble that lists addr, or nil.
func (c *Config) EnsembleOf(addr string) *Ensemble {
	for i := range c.Ensembles {
		for _, m := range c.Ensembles[i].Servers {
			if m.Address == addr {
				return &c.Ensembles[i]
			}
		}
	}
	return nil
}

// FromFlags builds the one ensemble given by --zookeeper.* flags.
func FromFlags(name, servers string, d Defaults) (*Config, error) {
	members, err := ParseServers(servers)
	if err != nil {
		return nil, fmt.Errorf("--zookeeper.servers: %w", err)
	}
	if name == "" {
		return nil, errors.New("--zookeeper.ensemble: empty name")
	}
	if d.Timeout <= 0 {
		return nil, errors.New("--zookeeper.timeout: must be positive")
	}
	cfg := &Config{}
	if err := cfg.SetDefaults(d); err != nil {
		return nil, err
	}
	e := Ensemble{Name: name, Servers: members}
	if err := d.apply(&e); err != nil {
		return nil, fmt.Errorf("--zookeeper.*: %w", err)
	}
	cfg.Ensembles = []Ensemble{e}
	return cfg, nil
}

// SetDefaults keeps the flags' settings for ad-hoc /probe lists, with
// their TLS built now: a configuration whose TLS cannot be built is an
// error at load, never plain TCP at a scrape.
func (c *Config) SetDefaults(d Defaults) error {
	c.defaults = Ensemble{Name: "defaults"}
	if err := d.apply(&c.defaults); err != nil {
		return fmt.Errorf("--zookeeper.*: %w", err)
	}
	return nil
}

// apply is the one place an ensemble takes the defaults (the flags) for
// what it leaves out, whether it comes from the flags, the YAML file or an
// ad-hoc /probe list, and has its settings checked and its TLS built.
func (d Defaults) apply(e *Ensemble) error {
	e.Discover = e.Discover || d.Discover
	if e.DiscoverMax == 0 {
		e.DiscoverMax = d.DiscoverMax
	}
	if e.DiscoverMax == 0 {
		e.DiscoverMax = DefaultDiscoverMax
	}
	if e.DiscoverMax < 0 {
		return fmt.Errorf("discover_max_members %d: want a positive number", e.DiscoverMax)
	}
	if e.Timeout == 0 {
		e.Timeout = Duration(d.Timeout)
	}
	if e.AdminPort == 0 {
		e.AdminPort = d.AdminPort
	}
	if e.AdminScheme == "" {
		e.AdminScheme = d.AdminScheme
	}
	if err := checkAdmin(e.AdminPort, e.AdminScheme); err != nil {
		return err
	}
	e.ClientProbe = e.ClientProbe || d.ClientProbe
	if e.ClientProbeZnode == "" {
		e.ClientProbeZnode = d.ClientProbeZnode
	}
	if e.ClientProbeZnode == "" {
		e.ClientProbeZnode = DefaultClientProbeZnode
	}
	if e.ClientProbeInterval == 0 {
		e.ClientProbeInterval = Duration(d.ClientProbeInterval)
	}
	if e.ClientProbeInterval == 0 {
		e.ClientProbeInterval = Duration(DefaultClientProbeInterval)
	}
	ownCanary := e.CanaryZnode != ""
	if e.CanaryZnode == "" && e.ClientProbe {
		e.CanaryZnode = d.CanaryZnode // the flag's canary goes with probed ensembles only
	}
	if e.DigestFile == "" {
		e.DigestFile = d.DigestFile
	}
	if e.Vantage == "" {
		e.Vantage = d.Vantage
	}
	if err := checkZnode("client_probe_znode", e.ClientProbeZnode); err != nil {
		return err
	}
	if e.CanaryZnode != "" {
		if err := checkZnode("canary_znode", e.CanaryZnode); err != nil {
			return err
		}
		if e.CanaryZnode == "/" || e.CanaryZnode == "/zookeeper" || strings.HasPrefix(e.CanaryZnode, "/zookeeper/") {
			return fmt.Errorf("canary_znode %q: the root and /zookeeper belong to ZooKeeper", e.CanaryZnode)
		}
		if ownCanary && !e.ClientProbe {
			return fmt.Errorf("canary_znode %q: needs client_probe", e.CanaryZnode)
		}
	}
	e.digest = nil
	if e.DigestFile != "" {
		digest, err := readDigest(e.DigestFile)
		if err != nil {
			return err
		}
		e.digest = digest
	}
	settings := e.TLS
	if settings == nil {
		settings = d.TLS
	}
	if err := e.SetTLS(settings); err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	return nil
}

// AdHoc is the ensemble of a /probe?target=host:port,... list: the
// configured ensemble's name and settings when every member belongs to
// one, else "probe-" and a short hash of the sorted members (stable
// whatever their order) with the flags' settings. unconfigured lists the
// members no configured ensemble names.
func (c *Config) AdHoc(members []Member) (e Ensemble, unconfigured []string) {
	var owner *Ensemble
	for i, m := range members {
		o := c.EnsembleOf(m.Address)
		if o == nil {
			unconfigured = append(unconfigured, m.Address)
		}
		switch {
		case i == 0:
			owner = o
		case o != owner:
			owner = nil // members of several ensembles, or of none: no one name
		}
	}
	if owner != nil {
		e = *owner
	} else {
		e = c.defaults
		addrs := make([]string, len(members))
		for i, m := range members {
			addrs[i] = m.Address
		}
		slices.Sort(addrs)
		h := fnv.New32a()
		h.Write([]byte(strings.Join(addrs, ",")))
		e.Name = fmt.Sprintf("probe-%08x", h.Sum32())
	}
	e.Servers = members
	return e, unconfigured
}

// TLS describes how to reach ZooKeeper's secure client port.
type TLS struct {
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// DefaultDiscoverMax is how many members discovery polls at most by
// default: far more than any real ensemble (a handful of voters, some
// observers), far fewer than a hostile conf can list.
const DefaultDiscoverMax = 100

// Duration is a time.Duration written as "2s", "500ms" in YAML.
type Duration time.Duration

// Defaults are the flag values a YAML ensemble inherits.
type Defaults struct {
	Timeout     time.Duration
	Discover    bool
	DiscoverMax int
	TLS         *TLS
	AdminPort   int
	AdminScheme string
	// The client probe and the vantage (see Ensemble).
	ClientProbe         bool
	ClientProbeZnode    string
	ClientProbeInterval time.Duration
	CanaryZnode         string
	DigestFile          string
	Vantage             string
}

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(node *yaml.Node) error {
	var s string
	if err := node.Decode(&s); err != nil {
		return fmt.Errorf("line %d: timeout: %w", node.Line, err)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return fmt.Errorf("line %d: timeout %q: want a positive duration such as 2s", node.Line, s)
	}
	*d = Duration(v)
	return nil
}

// Voters and Observers count the configured roles.
func (e Ensemble) Voters() int {
	n := 0
	for _, m := range e.Servers {
		if !m.Observer {
			n++
		}
	}
	return n
}

// Observers counts the members configured as observers.
func (e Ensemble) Observers() int { return len(e.Servers) - e.Voters() }

// Load reads and validates a YAML file; the defaults fill what an ensemble
// leaves out.
func Load(path string, d Defaults) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	cfg, err := Decode(bytes.NewReader(data), d)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return cfg, nil
}

// MaxFileBytes bounds the configuration file: thousands of ensembles fit
// in far less.
const MaxFileBytes = 4 << 20

// readFile reads a configuration file that must be a regular file (after
// symlinks) of at most MaxFileBytes: a link to /dev/zero must not fill the
// memory, nor a FIFO hang every later reload. The file is opened without
// blocking (opening a FIFO waits for a writer) and checked as opened, so
// a path swapped for a FIFO after a check cannot hang the reload either.
func readFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("config file %s: not a regular file (%s)", path, info.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("config file %s: larger than %d bytes", path, MaxFileBytes)
	}
	return data, nil
}

// Decode parses YAML strictly: unknown keys and a second document are errors,
// and errors name the line.
func Decode(r io.Reader, d Defaults) (*Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty file: want a list under ensembles:")
		}
		var root yaml.Node
		_ = yaml.Unmarshal(data, &root)
		return nil, cleanYAMLError(err, &root)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one YAML document")
	}
	// Line numbers for the checks below, which yaml cannot make.
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	itemLines := ensembleLines(&root)
	lineOf := func(i int) int {
		if i < len(itemLines) {
			return itemLines[i]
		}
		return 0
	}
	if len(cfg.Ensembles) == 0 {
		return nil, errors.New("no ensemble: want a list under ensembles:")
	}
	names := map[string]int{}
	for i := range cfg.Ensembles {
		e := &cfg.Ensembles[i]
		where := fmt.Sprintf("line %d: ensembles[%d]", lineOf(i), i)
		if e.Name == "" {
			return nil, fmt.Errorf("%s: name is required", where)
		}
		if first, dup := names[e.Name]; dup {
			return nil, fmt.Errorf("%s: name %q is already used by ensembles[%d]", where, e.Name, first)
		}
		names[e.Name] = i
		if len(e.Servers) == 0 {
			return nil, fmt.Errorf("%s (%s): servers is required", where, e.Name)
		}
		seen := map[string]bool{}
		for _, m := range e.Servers {
			if seen[m.Address] {
				return nil, fmt.Errorf("%s (%s): server %q is listed twice", where, e.Name, m.Address)
			}
			seen[m.Address] = true
		}
		if err := d.apply(e); err != nil {
			return nil, fmt.Errorf("%s (%s): %w", where, e.Name, err)
		}
		if err := e.Passthrough.Compile(); err != nil {
			return nil, fmt.Errorf("%s (%s): %w", where, e.Name, err)
		}
	}
	if err := cfg.SetDefaults(d); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// yamlValue matches the value yaml quotes in a type error ("cannot
// unmarshal !!str `hunter2` into bool"): it is not shown, in case a secret
// sits in the wrong key.
var yamlValue = regexp.MustCompile("(!!\\w+) `[^`]*`")

// cleanYAMLError drops yaml's "yaml: unmarshal errors:" header so the
// message reads "line 4: field tiemout not found in type config.Ensemble",
// hides the values it quotes, and names the key of a type error (yaml
// says only "line 4: cannot unmarshal !!str value into bool").
func cleanYAMLError(err error, root *yaml.Node) error {
	msg := yamlValue.ReplaceAllString(err.Error(), "$1 value")
	msg = strings.TrimPrefix(msg, "yaml: unmarshal errors:\n")
	msg = strings.TrimPrefix(msg, "yaml: ")
	lines := strings.Split(msg, "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
		var n int
		if _, err := fmt.Sscanf(lines[i], "line %d: cannot unmarshal", &n); err == nil {
			if key := keyOnLine(root, n); key != "" {
				lines[i] = strings.Replace(lines[i], ": cannot unmarshal", ": "+key+": cannot unmarshal", 1)
			}
		}
	}
	return errors.New(strings.Join(lines, "; "))
}

// keyOnLine is the key whose scalar value stands on line.
func keyOnLine(n *yaml.Node, line int) string {
	if n == nil {
		return ""
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if v := n.Content[i+1]; v.Kind == yaml.ScalarNode && v.Line == line {
				return n.Content[i].Value
			}
		}
	}
	for _, c := range n.Content {
		if k := keyOnLine(c, line); k != "" {
			return k
		}
	}
	return ""
}

func ensembleLines(root *yaml.Node) []int {
	lines := make([]int, 0)
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return lines
	}
	top := root.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "ensembles" {
			for _, item := range top.Content[i+1].Content {
				lines = append(lines, item.Line)
			}
		}
	}
	return lines
}

// Build turns the TLS settings into a client configuration. Verification is
// on unless insecure_skip_verify says otherwise.
func (t *TLS) Build() (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	cfg := &tls.Config{
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // the operator's explicit choice
		MinVersion:         tls.VersionTLS12,
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate in it", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, errors.New("cert_file and key_file go together")
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
