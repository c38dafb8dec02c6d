//go:build tools

// Package tools pins the Helm CLI (helm.sh/helm/v4/cmd/helm), which `make helm` builds into ./bin: the
// chart test renders manifests/chart with it.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
