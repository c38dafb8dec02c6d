// Package names holds the names of gangsched's scheduling plugins, as used in
// the plugin registry and in KubeSchedulerConfiguration profiles.
package names

const (
	// Gang is the plugin that admits pod groups all-or-nothing.
	Gang = "Gang"
)
