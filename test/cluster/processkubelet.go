package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	podresource "k8s.io/kubernetes/pkg/api/v1/resource"
	"k8s.io/kubernetes/pkg/fieldpath"
	"k8s.io/kubernetes/third_party/forked/golang/expansion"
)

// PodIP is the address the process kubelet gives every pod it runs: all of
// them share this machine's loopback.
const PodIP = "127.0.0.1"

// killGrace is how long a process gets between SIGTERM and SIGKILL.
const killGrace = 5 * time.Second

// defaultJavaOptions keep the JVMs small and quick to start, so that
// several Spark apps fit on two cores.
var defaultJavaOptions = []string{"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k"}

// ProcessKubeletOptions configure a ProcessKubelet.
type ProcessKubeletOptions struct {
	// Nodes are the names of the nodes whose pods it runs.
	Nodes []string
	// SparkHome is the Spark distribution the processes run from: what
	// /opt/spark is in Spark's image (bin/spark-submit, jars/).
	SparkHome string
	// PythonPath is the PYTHONPATH of every process (pyspark and py4j), as
	// Spark's Python image sets it.
	PythonPath string
	// JavaOptions are given to every JVM (through JAVA_TOOL_OPTIONS);
	// when nil, options that keep JVMs small (SerialGC, C1 only).
	JavaOptions []string
}

// ProcessKubelet runs the Spark containers of pods bound to its nodes as
// processes on this machine, as a kubelet runs them in Spark's image: for
// a container whose args start with `driver` or `executor` it runs what
// the image's entrypoint.sh runs, with the pod's environment (field
// references resolved, $(VAR) expanded) and its volumes as directories of
// their own, and the image's paths (/opt/spark, its Python examples) at
// SparkHome. It reports the pod Running with podIP 127.0.0.1, then
// Succeeded or Failed with the process's exit code; when the pod is
// deleted it ends the process group and finishes the deletion, and
// deletes the pods the deleted pod owned, as the garbage collector would.
// Other pods on its nodes are left as they are.
//
// What a cluster gives a pod and this machine does not is made up by the
// harness, not asked of the app: the driver is pointed at the API server
// and its credentials (spark.kubernetes.driver.master and
// spark.kubernetes.authenticate.driver.mounted.*, which a real pod gets
// from its service account), listens on ports of its own choosing
// (spark.driver.port, spark.driver.blockManager.port and
// spark.blockManager.port 0, since all pods share one address), and every
// JVM resolves Services' DNS names (<service>.<namespace>.svc) to
// 127.0.0.1 through a hosts file (-Djdk.net.hosts.file).
//
// It needs a cluster started with Options.Restartable, whose serving
// certificate is valid for 127.0.0.1: Spark's Kubernetes client (fabric8)
// cannot be told another TLS server name.
type ProcessKubelet struct {
	c     *Cluster
	opts  ProcessKubeletOptions
	nodes map[string]bool
	dir   string
	// master, tokenFile and caFile are what processes use to reach the
	// API server; confDir is SubmitEnv's SPARK_CONF_DIR.
	master, tokenFile, caFile, confDir string

	pods     corelisters.PodLister
	services corelisters.ServiceLister
	queue    workqueue.TypedRateLimitingInterface[string]
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	logger   klog.Logger

	mu    sync.Mutex
	procs map[string]*process // by namespace/name
	logs  map[string]string   // the log file of the latest process of each pod
}

// process is one pod's running container.
type process struct {
	uid      types.UID
	cmd      *exec.Cmd
	log      *os.File
	started  time.Time
	done     chan struct{} // closed when it exits
	exitCode int
	finished time.Time
}

// StartProcessKubelet starts a process kubelet for opts.Nodes. It runs
// until Stop or until the cluster stops.
func (c *Cluster) StartProcessKubelet(ctx context.Context, opts ProcessKubeletOptions) (*ProcessKubelet, error) {
	if c.stable == nil {
		return nil, errors.New("process kubelet: the cluster must be started with Options.Restartable (a serving certificate for 127.0.0.1)")
	}
	if _, err := os.Stat(filepath.Join(opts.SparkHome, "bin", "spark-submit")); err != nil {
		return nil, fmt.Errorf("process kubelet: no Spark at SparkHome %q: %w", opts.SparkHome, err)
	}
	if opts.JavaOptions == nil {
		opts.JavaOptions = defaultJavaOptions
	}
	dir := filepath.Join(c.Dir, "kubelet")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	k := &ProcessKubelet{
		c: c, opts: opts, nodes: map[string]bool{}, dir: dir,
		master:    c.stable.Host,
		tokenFile: filepath.Join(dir, "token"),
		caFile:    filepath.Join(dir, "ca.crt"),
		confDir:   filepath.Join(dir, "submit-conf"),
		queue:     workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		logger:    klog.FromContext(ctx).WithName("process-kubelet"),
		procs:     map[string]*process{},
		logs:      map[string]string{},
	}
	for _, n := range opts.Nodes {
		k.nodes[n] = true
	}
	if err := os.WriteFile(k.tokenFile, []byte(c.stable.BearerToken), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(k.caFile, c.stable.TLSClientConfig.CAData, 0o600); err != nil {
		return nil, err
	}
	if err := k.writeSubmitDefaults(); err != nil {
		return nil, err
	}

	ctx, k.cancel = context.WithCancel(ctx)
	factory := informers.NewSharedInformerFactory(c.Client, 0)
	podInformer := factory.Core().V1().Pods().Informer()
	k.pods = factory.Core().V1().Pods().Lister()
	k.services = factory.Core().V1().Services().Lister()
	enqueue := func(obj any) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		if p, ok := obj.(*v1.Pod); ok && k.nodes[p.Spec.NodeName] {
			k.queue.Add(p.Namespace + "/" + p.Name)
		}
	}
	if _, err := podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	}); err != nil {
		return nil, err
	}
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			k.cancel()
			factory.Shutdown()
			return nil, fmt.Errorf("process kubelet: %v informer did not sync", typ)
		}
	}
	const workers = 4
	for range workers {
		k.wg.Add(1)
		go func() {
			defer k.wg.Done()
			for k.processNext(ctx) {
			}
		}()
	}
	c.addTeardown(func() {
		k.Stop()
		factory.Shutdown()
	})
	return k, nil
}

// Master is the API server URL for spark-submit's --master, after "k8s://".
func (k *ProcessKubelet) Master() string { return k.master }

// SubmitEnv returns the environment of a spark-submit run on this machine
// against the cluster, by a test or by a tool that runs spark-submit itself
// (Spark Operator): SPARK_HOME, PATH with its bin/ first, the small-JVM
// options, the PYTHONPATH of pyspark, and SPARK_CONF_DIR with a spark-defaults.conf that reaches this
// cluster's API server from this machine (the token and CA of the
// submission client, spark.kubernetes.authenticate.submission.*, and of a
// client-mode driver, spark.kubernetes.authenticate.*) and turns the web UI
// off. An app's own --conf settings override those defaults.
func (k *ProcessKubelet) SubmitEnv() []string {
	env := []string{
		"SPARK_HOME=" + k.opts.SparkHome,
		"SPARK_CONF_DIR=" + k.confDir,
		"PATH=" + filepath.Join(k.opts.SparkHome, "bin") + string(os.PathListSeparator) + os.Getenv("PATH"),
		"JAVA_TOOL_OPTIONS=" + strings.Join(k.opts.JavaOptions, " "),
		// A client-mode Python driver runs here.
		"PYTHONPATH=" + k.opts.PythonPath,
		"PYSPARK_PYTHON=python3",
	}
	if home := os.Getenv("JAVA_HOME"); home != "" {
		env = append(env, "JAVA_HOME="+home)
	}
	return env
}

// writeSubmitDefaults writes the spark-defaults.conf of SubmitEnv.
func (k *ProcessKubelet) writeSubmitDefaults() error {
	if err := os.MkdirAll(k.confDir, 0o700); err != nil {
		return err
	}
	conf := strings.Join([]string{
		"spark.kubernetes.authenticate.submission.oauthTokenFile " + k.tokenFile,
		"spark.kubernetes.authenticate.submission.caCertFile " + k.caFile,
		// A client-mode driver (on this machine) creates the executors.
		"spark.kubernetes.authenticate.oauthTokenFile " + k.tokenFile,
		"spark.kubernetes.authenticate.caCertFile " + k.caFile,
		"spark.ui.enabled false",
	}, "\n") + "\n"
	return os.WriteFile(filepath.Join(k.confDir, "spark-defaults.conf"), []byte(conf), 0o600)
}

// Log returns the output of the latest process run for pod namespace/name,
// also after the pod is gone.
func (k *ProcessKubelet) Log(namespace, name string) (string, error) {
	k.mu.Lock()
	path, ok := k.logs[namespace+"/"+name]
	k.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("no process ran for pod %s/%s", namespace, name)
	}
	data, err := os.ReadFile(path)
	return string(data), err
}

// Stop kills every process and stops the kubelet; pods keep the status
// they had. It may be called more than once.
func (k *ProcessKubelet) Stop() {
	k.cancel()
	k.queue.ShutDown()
	k.wg.Wait()
	k.mu.Lock()
	procs := slices.Collect(func(yield func(*process) bool) {
		for _, p := range k.procs {
			if !yield(p) {
				return
			}
		}
	})
	k.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.kill(0)
		}()
	}
	wg.Wait()
}

func (k *ProcessKubelet) processNext(ctx context.Context) bool {
	key, quit := k.queue.Get()
	if quit {
		return false
	}
	defer k.queue.Done(key)
	if err := k.sync(ctx, key); err != nil {
		if ctx.Err() == nil {
			k.logger.V(2).Info("Retrying pod", "pod", key, "err", err)
		}
		k.queue.AddRateLimited(key)
		return true
	}
	k.queue.Forget(key)
	return true
}

// sync brings one pod's process and status in line with the pod.
func (k *ProcessKubelet) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := k.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		k.end(key, "")
		return nil
	}
	if err != nil {
		return err
	}
	if !k.nodes[pod.Spec.NodeName] {
		return nil
	}
	if pod.DeletionTimestamp != nil {
		k.end(key, pod.UID)
		return k.finishDeletion(ctx, pod)
	}

	k.mu.Lock()
	p := k.procs[key]
	k.mu.Unlock()
	if p != nil && p.uid != pod.UID {
		// A new pod of the same name: the old one's process is done with.
		k.end(key, p.uid)
		p = nil
	}
	if p == nil {
		if pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed {
			return nil
		}
		c, role := sparkContainer(pod)
		if c == nil {
			return nil // not Spark's: left as it is
		}
		if p, err = k.start(ctx, pod, c, role); err != nil {
			if apierrors.IsNotFound(err) {
				// A ConfigMap or Secret not created yet (Spark creates
				// the driver's after the pod): wait, as a kubelet does.
				return err
			}
			k.logger.Error(err, "Cannot run the container", "pod", key)
			return k.writeStatus(ctx, pod, nil, err)
		}
	}
	return k.writeStatus(ctx, pod, p, nil)
}

// sparkContainer returns the container of pod that Spark's image entrypoint
// would run as a driver or an executor, and which of the two it is.
func sparkContainer(pod *v1.Pod) (*v1.Container, string) {
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		if len(c.Command) == 0 && len(c.Args) > 0 && (c.Args[0] == "driver" || c.Args[0] == "executor") {
			return c, c.Args[0]
		}
	}
	return nil, ""
}

// start runs the container's process.
func (k *ProcessKubelet) start(ctx context.Context, pod *v1.Pod, c *v1.Container, role string) (*process, error) {
	key := pod.Namespace + "/" + pod.Name
	podDir := filepath.Join(k.dir, pod.Namespace, pod.Name+"-"+string(pod.UID)[:8])
	if err := os.MkdirAll(podDir, 0o700); err != nil {
		return nil, err
	}
	mounts, err := k.volumes(ctx, pod, c, podDir)
	if err != nil {
		return nil, err
	}
	env, err := k.containerEnv(ctx, pod, c)
	if err != nil {
		return nil, err
	}
	for name, v := range env {
		env[name] = mounts.rewrite(v)
	}
	args := make([]string, len(c.Args))
	mapping := expansion.MappingFuncFor(env)
	for i, a := range c.Args {
		args[i] = mounts.rewrite(expansion.Expand(a, mapping))
	}
	hosts := filepath.Join(podDir, "hosts")
	if err := k.writeHosts(hosts); err != nil {
		return nil, err
	}

	java := "java"
	if home := os.Getenv("JAVA_HOME"); home != "" {
		java = filepath.Join(home, "bin", "java")
	}
	spark := k.opts.SparkHome
	var argv []string
	switch role {
	case "driver":
		argv = append([]string{filepath.Join(spark, "bin", "spark-submit"),
			"--conf", "spark.driver.bindAddress=" + env["SPARK_DRIVER_BIND_ADDRESS"],
			"--deploy-mode", "client",
			// What a pod would get from its cluster (see ProcessKubelet).
			"--conf", "spark.kubernetes.driver.master=" + k.master,
			"--conf", "spark.kubernetes.authenticate.driver.mounted.oauthTokenFile=" + k.tokenFile,
			"--conf", "spark.kubernetes.authenticate.driver.mounted.caCertFile=" + k.caFile,
			"--conf", "spark.driver.port=0",
			"--conf", "spark.driver.blockManager.port=0",
			"--conf", "spark.blockManager.port=0",
		}, args[1:]...)
	case "executor":
		// As entrypoint.sh: SPARK_JAVA_OPT_<n> in order, heap, class path.
		classpath := env["SPARK_CLASSPATH"] + ":" + filepath.Join(spark, "jars", "*")
		if conf, ok := env["SPARK_CONF_DIR"]; ok {
			classpath = conf + ":" + classpath
		}
		argv = append([]string{java}, javaOpts(env)...)
		argv = append(argv,
			"-Xms"+env["SPARK_EXECUTOR_MEMORY"], "-Xmx"+env["SPARK_EXECUTOR_MEMORY"],
			"-cp", classpath,
			"org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend",
			"--driver-url", env["SPARK_DRIVER_URL"],
			"--executor-id", env["SPARK_EXECUTOR_ID"],
			"--cores", env["SPARK_EXECUTOR_CORES"],
			"--app-id", env["SPARK_APPLICATION_ID"],
			"--hostname", env["SPARK_EXECUTOR_POD_IP"],
			"--resourceProfileId", env["SPARK_RESOURCE_PROFILE_ID"],
			"--podName", env["SPARK_EXECUTOR_POD_NAME"])
	}

	// The image's environment, then the pod's.
	procEnv := map[string]string{
		"PATH":           os.Getenv("PATH"),
		"HOME":           podDir,
		"SPARK_HOME":     spark,
		"PYTHONPATH":     k.opts.PythonPath,
		"PYSPARK_PYTHON": "python3",
	}
	if home := os.Getenv("JAVA_HOME"); home != "" {
		procEnv["JAVA_HOME"] = home
	}
	for name, v := range env {
		procEnv[name] = v
	}
	procEnv["JAVA_TOOL_OPTIONS"] = strings.Join(append([]string{"-Djdk.net.hosts.file=" + hosts}, k.opts.JavaOptions...), " ")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = podDir
	for name, v := range procEnv {
		cmd.Env = append(cmd.Env, name+"="+v)
	}
	sort.Strings(cmd.Env)
	logPath := filepath.Join(podDir, "log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	p := &process{uid: pod.UID, cmd: cmd, log: logFile, started: time.Now(), done: make(chan struct{})}
	k.mu.Lock()
	k.procs[key] = p
	k.logs[key] = logPath
	k.mu.Unlock()
	k.logger.V(2).Info("Started container process", "pod", key, "role", role, "pid", cmd.Process.Pid, "log", logPath)
	go func() {
		err := cmd.Wait()
		_ = logFile.Close()
		p.exitCode = 0
		if err != nil {
			p.exitCode = -1
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				p.exitCode = exit.ExitCode()
				if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					p.exitCode = 128 + int(ws.Signal())
				}
			}
		}
		p.finished = time.Now()
		close(p.done)
		k.logger.V(2).Info("Container process exited", "pod", key, "exitCode", p.exitCode)
		k.queue.Add(key)
	}()
	return p, nil
}

// javaOpts returns the values of the SPARK_JAVA_OPT_<n> variables in the
// order of n, as entrypoint.sh passes them to the executor's JVM.
func javaOpts(env map[string]string) []string {
	type opt struct {
		n int
		v string
	}
	var opts []opt
	for name, v := range env {
		if rest, ok := strings.CutPrefix(name, "SPARK_JAVA_OPT_"); ok {
			n, _ := strconv.Atoi(rest)
			opts = append(opts, opt{n, v})
		}
	}
	sort.Slice(opts, func(i, j int) bool { return opts[i].n < opts[j].n })
	out := make([]string, len(opts))
	for i, o := range opts {
		out[i] = o.v
	}
	return out
}

// containerEnv resolves the container's environment as the kubelet does:
// values, field and resource references, ConfigMap and Secret keys, with
// $(VAR) expanded from the variables before it.
func (k *ProcessKubelet) containerEnv(ctx context.Context, pod *v1.Pod, c *v1.Container) (map[string]string, error) {
	env := map[string]string{}
	for _, e := range c.Env {
		v := expansion.Expand(e.Value, expansion.MappingFuncFor(env))
		if from := e.ValueFrom; from != nil {
			var err error
			switch {
			case from.FieldRef != nil:
				v, err = podField(pod, from.FieldRef.FieldPath)
			case from.ResourceFieldRef != nil:
				v, err = podresource.ExtractContainerResourceValue(from.ResourceFieldRef, c)
			case from.ConfigMapKeyRef != nil:
				var cm *v1.ConfigMap
				if cm, err = k.c.Client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, from.ConfigMapKeyRef.Name, metav1.GetOptions{}); err == nil {
					v = cm.Data[from.ConfigMapKeyRef.Key]
				}
			case from.SecretKeyRef != nil:
				var s *v1.Secret
				if s, err = k.c.Client.CoreV1().Secrets(pod.Namespace).Get(ctx, from.SecretKeyRef.Name, metav1.GetOptions{}); err == nil {
					v = string(s.Data[from.SecretKeyRef.Key])
				}
			}
			if err != nil {
				return nil, fmt.Errorf("env %s: %w", e.Name, err)
			}
		}
		env[e.Name] = v
	}
	return env, nil
}

// podField is the value of a field reference, with the pod's addresses
// being this machine's.
func podField(pod *v1.Pod, path string) (string, error) {
	switch path {
	case "status.podIP", "status.podIPs", "status.hostIP", "status.hostIPs":
		return PodIP, nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	}
	return fieldpath.ExtractFieldPathAsString(pod, path)
}

// mountTable maps a container's mount paths to the directories that stand
// for them.
type mountTable []struct{ path, dir string }

// rewrite replaces every mount path in s (followed by a path separator,
// the end or a delimiter) by its directory.
func (m mountTable) rewrite(s string) string {
	for _, e := range m {
		re := regexp.MustCompile(regexp.QuoteMeta(e.path) + `(/|$|[:,;= "'])`)
		s = re.ReplaceAllString(s, strings.ReplaceAll(e.dir, "$", "$$")+"${1}")
	}
	return s
}

// imageLayout maps the paths of Spark's image (apache/spark) that apps
// name as local:// files to where the distribution at SparkHome has them:
// the Python examples, then the rest of /opt/spark.
func (k *ProcessKubelet) imageLayout() mountTable {
	return mountTable{
		{"/opt/spark/examples/src/main/python", filepath.Join(k.opts.SparkHome, "examples")},
		{"/opt/spark", k.opts.SparkHome},
	}
}

// volumes makes a directory for each volume the container mounts, filled
// with the keys of ConfigMap and Secret volumes, and returns the mount
// table, longest mount path first. The contents of ConfigMap files (such
// as Spark's spark.properties) are rewritten too.
func (k *ProcessKubelet) volumes(ctx context.Context, pod *v1.Pod, c *v1.Container, podDir string) (mountTable, error) {
	var table mountTable
	files := map[string]string{}
	for _, vm := range c.VolumeMounts {
		var vol *v1.Volume
		for i := range pod.Spec.Volumes {
			if pod.Spec.Volumes[i].Name == vm.Name {
				vol = &pod.Spec.Volumes[i]
			}
		}
		if vol == nil {
			return nil, fmt.Errorf("volume mount %s names no volume", vm.Name)
		}
		dir := filepath.Join(podDir, "volumes", vm.Name)
		if vol.HostPath != nil {
			dir = vol.HostPath.Path
		} else if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		data := map[string]string{}
		var items []v1.KeyToPath
		switch {
		case vol.ConfigMap != nil:
			cm, err := k.c.Client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, vol.ConfigMap.Name, metav1.GetOptions{})
			if err != nil {
				return nil, fmt.Errorf("volume %s: %w", vm.Name, err)
			}
			data, items = cm.Data, vol.ConfigMap.Items
		case vol.Secret != nil:
			s, err := k.c.Client.CoreV1().Secrets(pod.Namespace).Get(ctx, vol.Secret.SecretName, metav1.GetOptions{})
			if err != nil {
				return nil, fmt.Errorf("volume %s: %w", vm.Name, err)
			}
			for key, v := range s.Data {
				data[key] = string(v)
			}
			items = vol.Secret.Items
		}
		if len(items) == 0 {
			for key := range data {
				items = append(items, v1.KeyToPath{Key: key, Path: key})
			}
		}
		for _, it := range items {
			if v, ok := data[it.Key]; ok {
				files[filepath.Join(dir, it.Path)] = v
			}
		}
		if vm.SubPath != "" {
			dir = filepath.Join(dir, vm.SubPath)
		}
		table = append(table, struct{ path, dir string }{vm.MountPath, dir})
	}
	table = append(table, k.imageLayout()...)
	sort.Slice(table, func(i, j int) bool { return len(table[i].path) > len(table[j].path) })
	for path, v := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, []byte(table.rewrite(v)), 0o600); err != nil {
			return nil, err
		}
	}
	return table, nil
}

// writeHosts writes a hosts file that resolves this machine's names and
// every Service's DNS names to 127.0.0.1.
func (k *ProcessKubelet) writeHosts(path string) error {
	names := []string{"localhost"}
	if h, err := os.Hostname(); err == nil {
		names = append(names, h)
	}
	services, err := k.services.List(labels.Everything())
	if err != nil {
		return err
	}
	for _, s := range services {
		base := s.Name + "." + s.Namespace
		names = append(names, base, base+".svc", base+".svc.cluster.local")
	}
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s %s\n", PodIP, n)
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// writeStatus reports the pod as its process stands: Running while it
// runs, Succeeded or Failed once it exited; with startErr, Failed at once.
func (k *ProcessKubelet) writeStatus(ctx context.Context, pod *v1.Pod, p *process, startErr error) error {
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		cur, err := k.c.Client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		}
		if cur.UID != pod.UID || cur.DeletionTimestamp != nil || cur.Status.Phase == v1.PodSucceeded || cur.Status.Phase == v1.PodFailed {
			return nil
		}
		want := cur.DeepCopy()
		st := &want.Status
		now := metav1.Now()
		st.HostIP, st.HostIPs = PodIP, []v1.HostIP{{IP: PodIP}}
		st.PodIP, st.PodIPs = PodIP, []v1.PodIP{{IP: PodIP}}
		if st.StartTime == nil {
			st.StartTime = &now
		}
		exited := false
		state, ready := v1.ContainerState{}, true
		switch {
		case startErr != nil:
			exited = true
			state.Terminated = &v1.ContainerStateTerminated{ExitCode: 128, Reason: "StartError", Message: startErr.Error(), FinishedAt: now}
		default:
			select {
			case <-p.done:
				exited = true
				reason := "Completed"
				if p.exitCode != 0 {
					reason = "Error"
				}
				state.Terminated = &v1.ContainerStateTerminated{ExitCode: int32(p.exitCode), Reason: reason,
					StartedAt: metav1.NewTime(p.started), FinishedAt: metav1.NewTime(p.finished)}
			default:
				state.Running = &v1.ContainerStateRunning{StartedAt: metav1.NewTime(p.started)}
			}
		}
		if exited {
			ready = false
			st.Phase = v1.PodSucceeded
			if state.Terminated.ExitCode != 0 {
				st.Phase = v1.PodFailed
			}
		} else {
			st.Phase = v1.PodRunning
		}
		st.ContainerStatuses = nil
		for _, c := range cur.Spec.Containers {
			st.ContainerStatuses = append(st.ContainerStatuses, v1.ContainerStatus{
				Name: c.Name, Image: c.Image, ImageID: c.Image, Ready: ready, Started: &ready, State: state,
			})
		}
		cond := v1.ConditionFalse
		if ready {
			cond = v1.ConditionTrue
		}
		for _, t := range []v1.PodConditionType{v1.PodInitialized, v1.ContainersReady, v1.PodReady} {
			setCondition(st, t, cond, now)
		}
		if st.Phase == cur.Status.Phase && st.PodIP == cur.Status.PodIP && len(cur.Status.ContainerStatuses) > 0 {
			return nil // already said
		}
		_, err = k.c.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, want, metav1.UpdateOptions{})
		return err
	})
}

func setCondition(st *v1.PodStatus, t v1.PodConditionType, status v1.ConditionStatus, now metav1.Time) {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			if st.Conditions[i].Status != status {
				st.Conditions[i].Status, st.Conditions[i].LastTransitionTime = status, now
			}
			return
		}
	}
	st.Conditions = append(st.Conditions, v1.PodCondition{Type: t, Status: status, LastTransitionTime: now})
}

// end stops the process of key, if it belongs to uid ("" for any), and
// waits for it.
func (k *ProcessKubelet) end(key string, uid types.UID) {
	k.mu.Lock()
	p := k.procs[key]
	if p != nil && (uid == "" || p.uid == uid) {
		delete(k.procs, key)
	} else {
		p = nil
	}
	k.mu.Unlock()
	if p != nil {
		p.kill(killGrace)
	}
}

// kill sends the process group SIGTERM, then SIGKILL after grace, and
// waits for the process to exit.
func (p *process) kill(grace time.Duration) {
	pgid := p.cmd.Process.Pid
	if grace > 0 {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-p.done
}

// finishDeletion removes a deleted pod whose process has ended, and
// deletes the pods it owned, as the garbage collector would (no
// controller-manager runs here).
func (k *ProcessKubelet) finishDeletion(ctx context.Context, pod *v1.Pod) error {
	zero := int64(0)
	err := k.c.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return err
	}
	owned, err := k.pods.Pods(pod.Namespace).List(labels.Everything())
	if err != nil {
		return err
	}
	for _, o := range owned {
		for _, ref := range o.OwnerReferences {
			if ref.UID == pod.UID && o.DeletionTimestamp == nil {
				if err := k.c.Client.CoreV1().Pods(o.Namespace).Delete(ctx, o.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					return err
				}
			}
		}
	}
	return nil
}
