//go:build tools

// Package tools pins golangci-lint (make lint builds it from this module,
// apart from gangsched's go.mod).
package tools

import _ "github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
