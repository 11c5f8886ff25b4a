package fourletter

import "strings"

// ShortVersion returns the leading "x.y.z" of a ZooKeeper version string
// such as "3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC", or ""
// when it has none.
func ShortVersion(v string) string {
	v = strings.TrimSpace(v)
	end, dots, digits := 0, 0, 0
	for end < len(v) {
		c := v[end]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && digits > 0 && dots < 2:
			dots++
			digits = 0
		default:
			goto done
		}
		end++
	}
done:
	if dots != 2 || digits == 0 {
		return ""
	}
	return v[:end]
}
