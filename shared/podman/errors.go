package podman

import (
	"errors"
	"net/http"
	"strings"
	"syscall"

	"github.com/containers/podman/v5/pkg/errorhandling"
)

// statusCode is the HTTP status of a service-side error, or 0.
func statusCode(err error) int {
	var m *errorhandling.ErrorModel
	if errors.As(err, &m) {
		return m.Code()
	}
	return 0
}

func isNotFound(err error) bool { return statusCode(err) == http.StatusNotFound }

// addrInUse reports a service-side failure to bind a port that is taken.
// The REST API carries the errno only as text, in the error's root cause,
// the field it keeps "for automated parsing".
func addrInUse(err error) bool {
	var m *errorhandling.ErrorModel
	return errors.As(err, &m) && strings.Contains(m.Because, syscall.EADDRINUSE.Error())
}

// oneLine keeps the service's messages (which may quote tool output) to
// the single line our errors promise.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
