package cluster

import (
	"flag"
	"fmt"
	"io"

	"k8s.io/klog/v2"
)

// RedirectKlog sends the output of the global klog logger (klog.Info and
// friends, which parts of the API server still use) to w instead of stderr,
// and returns a function that restores the previous state. Output of
// contextual loggers taken from a context is not affected. Not safe to call
// while other goroutines log.
func RedirectKlog(w io.Writer) (restore func(), err error) {
	state := klog.CaptureState()
	var fs flag.FlagSet
	klog.InitFlags(&fs)
	for _, kv := range [][2]string{
		{"logtostderr", "false"},
		{"alsologtostderr", "false"},
		{"stderrthreshold", "10"},
		{"one_output", "true"},
		{"log_file", "/dev/null"},
	} {
		if err := fs.Set(kv[0], kv[1]); err != nil {
			state.Restore()
			return nil, fmt.Errorf("redirecting klog: setting -%s: %w", kv[0], err)
		}
	}
	klog.SetOutput(w)
	return state.Restore, nil
}
