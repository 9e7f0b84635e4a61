package podman

import (
	"errors"
	"net/http"
	"strings"

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

// oneLine keeps the service's messages (which may quote tool output) to
// the single line our errors promise.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
