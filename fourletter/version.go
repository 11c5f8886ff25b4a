package fourletter

import (
	"regexp"
	"strings"
)

// semver finds the leading x.y.z of a version string such as
// "3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC". It runs once
// per member and scrape on a short string, not per line.
var semver = regexp.MustCompile(`^\d+\.\d+\.\d+`)

// ShortVersion returns the leading "x.y.z" of a ZooKeeper version string, or
// "" when it has none.
func ShortVersion(v string) string {
	return semver.FindString(strings.TrimSpace(v))
}
