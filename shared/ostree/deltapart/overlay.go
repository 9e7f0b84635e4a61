package deltapart

import "strings"

// Dir is where, inside an archive repository, our image keeps its static
// delta: the summary, the superblock, the delta index and the parts'
// recipes, under the names they have at the repository's root. Only a
// server that rebuilds parts (the archive server) serves them there; a
// plain web server serving the same directory shows a repository with no
// summary and no delta, which libostree pulls loose as before, instead of
// a delta whose parts it cannot find.
const Dir = "ocne-delta"

// Overlay maps a request for name (a slash path under the web root) to
// the file in Dir that answers it: repo/summary to repo/ocne-delta/summary,
// repo/deltas/... and repo/delta-indexes/... likewise. ok is false for
// every other name.
func Overlay(name string) (file string, ok bool) {
	dir, base := "", name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		dir, base = name[:i+1], name[i+1:]
	}
	if base == "summary" {
		return dir + Dir + "/summary", true
	}
	for _, sub := range []string{"deltas/", "delta-indexes/"} {
		i := strings.Index(name, sub)
		if i >= 0 && (i == 0 || name[i-1] == '/') && !strings.Contains(name[:i], Dir+"/") {
			return name[:i] + Dir + "/" + name[i:], true
		}
	}
	return "", false
}
