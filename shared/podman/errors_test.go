package podman

import (
	"fmt"
	"testing"

	"github.com/containers/podman/v5/pkg/errorhandling"
)

func TestAddrInUse(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&errorhandling.ErrorModel{Because: "address already in use", Message: "rootlessport listen tcp 0.0.0.0:8080: bind: address already in use", ResponseCode: 500}, true},
		{fmt.Errorf("start: %w", &errorhandling.ErrorModel{Because: "rootlessport listen tcp 0.0.0.0:8080: bind: address already in use", ResponseCode: 500}), true},
		{&errorhandling.ErrorModel{Because: "no such container", Message: "address already in use, says the message only", ResponseCode: 404}, false},
		{fmt.Errorf("address already in use"), false}, // not the service's word
	}
	for _, tt := range tests {
		if got := addrInUse(tt.err); got != tt.want {
			t.Errorf("addrInUse(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
