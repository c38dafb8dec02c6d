#!/usr/bin/env bash
# Regenerates the generated API code (deepcopy, clientset, listers, informers)
# and the Queue CRD, with generators taken from the Go module proxy.
set -euo pipefail
cd "$(dirname "$0")/.."
M=github.com/gangsched/gangsched
H=hack/boilerplate.go.txt
CG=k8s.io/code-generator/cmd
V=v0.37.2

go run $CG/deepcopy-gen@$V --output-file zz_generated.deepcopy.go --go-header-file $H \
  ./apis/config ./apis/config/v1 ./apis/scheduling/v1alpha1
rm -rf client
go run $CG/client-gen@$V --clientset-name versioned --input-base "" --input $M/apis/scheduling/v1alpha1 \
  --output-pkg $M/client/clientset --output-dir ./client/clientset --go-header-file $H
go run $CG/lister-gen@$V --output-pkg $M/client/listers --output-dir ./client/listers --go-header-file $H \
  ./apis/scheduling/v1alpha1
go run $CG/informer-gen@$V --versioned-clientset-package $M/client/clientset/versioned \
  --listers-package $M/client/listers --output-pkg $M/client/informers --output-dir ./client/informers \
  --go-header-file $H ./apis/scheduling/v1alpha1
go run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0 crd paths=./apis/scheduling/... \
  output:crd:dir=manifests/crds
# scheduler-plugins' PodGroup CRD, shipped unchanged for kubectl apply -k.
cp "$(go list -m -f '{{.Dir}}' sigs.k8s.io/scheduler-plugins)/config/crd/bases/scheduling.x-k8s.io_podgroups.yaml" manifests/crds/
chmod 644 manifests/crds/*.yaml
