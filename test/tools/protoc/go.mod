// protoc plugins for `make generate`, pinned so the committed code under
// plugins/ignitionhost/proto is reproducible.
module github.com/ocne-image/ocne-image/test/tools/protoc

go 1.26.8

require (
	google.golang.org/grpc/cmd/protoc-gen-go-grpc v1.6.2
	google.golang.org/protobuf v1.36.12
)
