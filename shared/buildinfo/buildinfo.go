// Package buildinfo carries the version stamped into our binaries at link
// time (see the Makefile's LDFLAGS).
package buildinfo

// Version is set with -ldflags "-X .../buildinfo.Version=...".
var Version = "dev"
