// Package wire is the builder pod's HTTP protocol, both ends of it: the
// status and result the pod reports as JSON, the port and paths it serves
// them on, the Server the pod runs and the Client `create` follows it with.
// It links only the standard library, so neither end links the other's
// code: the pod no Kubernetes client, `create`'s cluster side no pipeline.
package wire

// Port is where the builder pod serves the protocol.
const Port = 8080

// WorkDir is the builder pod's scratch directory: the builder image makes
// it, and the pod mounts an emptyDir there and passes it as --work-dir.
const WorkDir = "/work"

// Paths the builder pod serves.
const (
	PathHealth  = "/healthz"
	PathReady   = "/ready" // 200 once the archive can be fetched: the pod's readiness probe
	PathStatus  = "/status"
	PathArchive = "/archive"
)

// States a build in a pod goes through.
const (
	StateBuilding = "building"
	StateReady    = "ready"  // the archive can be fetched from PathArchive
	StatePushed   = "pushed" // the archive went to its destination
	StateFailed   = "failed"
)

// Status is what the builder pod reports at PathStatus.
type Status struct {
	State  string  `json:"state"`
	Error  string  `json:"error,omitempty"`
	Result *Result `json:"result,omitempty"`
	// Digest and Size describe the archive file, so the client can check
	// what it fetched (and resume a cut transfer).
	Digest string `json:"digest,omitempty"`
	Size   int64  `json:"size,omitempty"`
	// Read and Total count the source image's blob bytes, for a progress bar.
	Read  int64 `json:"read"`
	Total int64 `json:"total"`
}

// Result describes what was built. Output is the archive's path where it
// was built: in the pod, a path the client has to replace with its own.
type Result struct {
	Output  string   `json:"output"`
	Source  string   `json:"source"`
	Commit  string   `json:"commit"`
	Ref     string   `json:"ref"`
	Version string   `json:"version"`
	Arch    string   `json:"arch"`
	Objects int      `json:"objects"`
	Names   []string `json:"names"`
}
