// Package dashboards describes the shipped Grafana dashboards (the JSON
// files beside it) for the tests that check them: their structure here, and
// every panel query against a real Prometheus in the end-to-end test.
package dashboards

import (
	"encoding/json"
	"fmt"
	"os"
)

// Dashboard is the part of Grafana's JSON model the tests look at.
type Dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []Panel `json:"panels"`
}

// Panel is one panel with its queries.
type Panel struct {
	Title      string `json:"title"`
	Type       string `json:"type"`
	Datasource struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr       string `json:"expr"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
	} `json:"targets"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
}

// Files are the shipped dashboards and the variables each must template.
var Files = map[string][]string{
	"zookeeper-ensemble.json": {"datasource", "ensemble"},
	"zookeeper-member.json":   {"datasource", "ensemble", "server"},
}

// Load reads a dashboard file.
func Load(path string) (Dashboard, error) {
	var d Dashboard
	data, err := os.ReadFile(path)
	if err != nil {
		return d, err
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return d, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}
