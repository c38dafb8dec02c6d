package cluster

import (
	"strings"

	"k8s.io/component-base/metrics/legacyregistry"
)

// APIWrites returns the writes the API servers of this process served
// (kube-apiserver's apiserver_request_total: creates, updates, patches,
// applies and deletes), by "VERB resource[/subresource]". A test API server
// starts its counts again when it starts, so they are those of the one
// running, or of the last one.
func APIWrites() map[string]float64 {
	families, err := legacyregistry.DefaultGatherer.Gather()
	if err != nil {
		return nil
	}
	counts := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "apiserver_request_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			switch l["verb"] {
			case "POST", "PUT", "PATCH", "APPLY", "DELETE":
				counts[strings.TrimSuffix(l["verb"]+" "+l["resource"]+"/"+l["subresource"], "/")] += m.GetCounter().GetValue()
			}
		}
	}
	return counts
}
