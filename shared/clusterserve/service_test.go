package clusterserve

import (
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// TestNodePortTaken tells a node port another Service holds from the
// API server's other refusals.
func TestNodePortTaken(t *testing.T) {
	svc := schema.GroupKind{Kind: "Service"}
	port := field.NewPath("spec", "ports").Index(0).Child("nodePort")
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"allocated", apierrors.NewInvalid(svc, "s", field.ErrorList{field.Invalid(port, 30080, "provided port is already allocated")}), true},
		{"wrapped", fmt.Errorf("apply: %w", apierrors.NewInvalid(svc, "s", field.ErrorList{field.Invalid(port, 30080, "provided port is already allocated")})), true},
		{"out of range", apierrors.NewInvalid(svc, "s", field.ErrorList{field.Invalid(port, 80, "provided port is not in the valid range. The range of valid ports is 30000-32767")}), false},
		{"another field", apierrors.NewInvalid(svc, "s", field.ErrorList{field.Invalid(field.NewPath("spec", "clusterIP"), "x", "already allocated")}), false},
		{"forbidden", apierrors.NewForbidden(schema.GroupResource{Resource: "services"}, "s", fmt.Errorf("no")), false},
		{"not the API's", fmt.Errorf("spec.ports[0].nodePort: already allocated"), false},
	}
	for _, tt := range tests {
		if got := nodePortTaken(tt.err); got != tt.want {
			t.Errorf("%s: nodePortTaken = %v, want %v", tt.name, got, tt.want)
		}
	}
}
