package ock

import (
	"fmt"
	"strings"
)

// Release is what the OCK image of one Kubernetes minor version carries:
// the exact Kubernetes version its kubeadm, kubelet and control-plane
// images are, and the tags of the etcd and CoreDNS images Oracle
// publishes beside them (what ocne 2.3.3 puts into a ClusterConfiguration).
type Release struct {
	Kubernetes    string // e.g. 1.33.5
	Etcd, CoreDNS string // image tags
}

// releases of the versions in Versions.
var releases = map[string]Release{
	"1.26": {Kubernetes: "1.26.6", Etcd: "3.5.6", CoreDNS: "v1.9.3-4"},
	"1.28": {Kubernetes: "1.28.8", Etcd: "3.5.10", CoreDNS: "v1.10.1-1"},
	"1.29": {Kubernetes: "1.29.3", Etcd: "3.5.10", CoreDNS: "v1.11.1"},
	"1.30": {Kubernetes: "1.30.3", Etcd: "3.5.12", CoreDNS: "v1.11.1"},
	"1.31": {Kubernetes: "1.31.0", Etcd: "3.5.15", CoreDNS: "current"},
	"1.32": {Kubernetes: "1.32.0", Etcd: "3.5.15", CoreDNS: "current"},
	"1.33": {Kubernetes: "1.33.5", Etcd: "3.5.23", CoreDNS: "current"},
}

// ReleaseOf returns the release of a Kubernetes minor version ("1.33";
// a patch version or a leading v is taken as its minor version).
func ReleaseOf(version string) (Release, error) {
	minor, _ := MinorVersion(version)
	r, ok := releases[minor]
	if !ok {
		return Release{}, fmt.Errorf("no OCK image exists for Kubernetes %s: use one of %s", version, strings.Join(Versions, ", "))
	}
	return r, nil
}
