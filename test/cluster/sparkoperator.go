package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
)

// SparkOperatorOptions configure StartSparkOperator.
type SparkOperatorOptions struct {
	// Binary is Spark Operator's command (kubeflow/spark-operator's
	// cmd/operator, with its `controller` and `webhook` subcommands;
	// make spark-operator builds it).
	Binary string
	// CRDDir holds its CRDs (config/crd/bases of its module).
	CRDDir string
	// Namespace is the namespace whose SparkApplications it runs.
	Namespace string
	// KubeSchedulerNames are the batch schedulers it serves with its
	// kube-scheduler backend (--kube-scheduler-names, batch scheduling
	// enabled): a SparkApplication whose batchScheduler is one of them
	// gets a scheduler-plugins PodGroup <app>-pg.
	KubeSchedulerNames []string
}

// SparkOperator is Spark Operator's controller and webhook, run as
// processes on this machine against the cluster, as its Helm chart deploys
// them: the webhook sets the pods' schedulerName (from batchScheduler) and
// the other pod settings spark-submit cannot; the controller runs
// spark-submit (with the process kubelet's SubmitEnv) and follows the app.
type SparkOperator struct {
	dir   string
	procs []*operatorProcess
}

type operatorProcess struct {
	name, log string
	cmd       *exec.Cmd
	exited    chan struct{}
}

// webhookName is the name of the operator's webhook configurations (the
// chart's default).
const webhookName = "spark-operator-webhook"

// StartSparkOperator installs the operator's CRDs and webhook
// configurations and starts its webhook and then its controller, for the
// SparkApplications of opts.Namespace whose pods k runs. It returns when
// both serve; they run until the cluster stops.
//
// The chart's webhook Service is replaced by a URL on this machine
// (https://localhost:<port>, a name the webhook's own certificate holds),
// and the controller's in-cluster address by KUBERNETES_SERVICE_HOST/PORT
// of the API server.
func (c *Cluster) StartSparkOperator(ctx context.Context, k *ProcessKubelet, opts SparkOperatorOptions) (*SparkOperator, error) {
	crds, err := filepath.Glob(filepath.Join(opts.CRDDir, "sparkoperator.k8s.io_*.yaml"))
	if err != nil || len(crds) == 0 {
		return nil, fmt.Errorf("spark operator: no CRDs in %q", opts.CRDDir)
	}
	if err := c.InstallCRDs(ctx, crds...); err != nil {
		return nil, err
	}
	system, err := c.CreateNamespace(ctx, "spark-operator")
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	webhookPort, webhookProbe, controllerProbe := ports[0], ports[1], ports[2]
	mutating, validating := operatorWebhooks(opts.Namespace, webhookPort)
	if _, err := c.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, mutating, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	if _, err := c.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, validating, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	o := &SparkOperator{dir: filepath.Join(c.Dir, "spark-operator")}
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return nil, err
	}
	c.addTeardown(o.stop)
	common := []string{
		"--kubeconfig=" + c.KubeconfigPath,
		"--namespaces=" + opts.Namespace,
		"--metrics-bind-address=0",
		"--zap-log-level=info",
	}
	if err := o.start("webhook", opts.Binary, nil, append([]string{"webhook", "start",
		"--health-probe-bind-address=127.0.0.1:" + strconv.Itoa(webhookProbe),
		"--webhook-port=" + strconv.Itoa(webhookPort),
		"--webhook-cert-dir=" + filepath.Join(o.dir, "certs"),
		"--webhook-secret-namespace=" + system,
		"--webhook-svc-name=spark-operator-webhook-svc",
		"--webhook-svc-namespace=" + system,
		"--mutating-webhook-name=" + webhookName,
		"--validating-webhook-name=" + webhookName,
	}, common...)); err != nil {
		return nil, err
	}
	if err := o.waitReady(ctx, webhookProbe); err != nil {
		return nil, err
	}
	if err := c.waitWebhookCA(ctx); err != nil {
		return nil, err
	}
	host, port, err := net.SplitHostPort(k.master[len("https://"):])
	if err != nil {
		return nil, fmt.Errorf("spark operator: API server address %q: %w", k.master, err)
	}
	env := append(k.SubmitEnv(), "HOME="+o.dir, "KUBERNETES_SERVICE_HOST="+host, "KUBERNETES_SERVICE_PORT="+port)
	args := append([]string{"controller", "start",
		"--health-probe-bind-address=127.0.0.1:" + strconv.Itoa(controllerProbe),
		"--enable-ui-service=false",
	}, common...)
	if len(opts.KubeSchedulerNames) > 0 {
		args = append(args, "--enable-batch-scheduler", "--kube-scheduler-names="+strings.Join(opts.KubeSchedulerNames, ","))
	}
	if err := o.start("controller", opts.Binary, env, args); err != nil {
		return nil, err
	}
	if err := o.waitReady(ctx, controllerProbe); err != nil {
		return nil, err
	}
	return o, nil
}

// operatorWebhooks returns the chart's webhook configurations for the
// SparkApplications and pods of namespace, served at
// https://localhost:port; the webhook fills in their CA bundle.
func operatorWebhooks(namespace string, port int) (*admissionv1.MutatingWebhookConfiguration, *admissionv1.ValidatingWebhookConfiguration) {
	url := func(path string) admissionv1.WebhookClientConfig {
		return admissionv1.WebhookClientConfig{URL: ptr.To(fmt.Sprintf("https://localhost:%d%s", port, path))}
	}
	inNamespace := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: []string{namespace}}}}
	rule := func(group, resource string, ops ...admissionv1.OperationType) []admissionv1.RuleWithOperations {
		version := "v1beta2"
		if group == "" {
			version = "v1"
		}
		return []admissionv1.RuleWithOperations{{Operations: ops, Rule: admissionv1.Rule{
			APIGroups: []string{group}, APIVersions: []string{version}, Resources: []string{resource}}}}
	}
	sideEffects := admissionv1.SideEffectClassNoneOnDryRun
	fail := admissionv1.Fail
	create, update := admissionv1.Create, admissionv1.Update
	mutate := func(name, path string, rules []admissionv1.RuleWithOperations) admissionv1.MutatingWebhook {
		return admissionv1.MutatingWebhook{Name: name, AdmissionReviewVersions: []string{"v1"}, ClientConfig: url(path),
			SideEffects: &sideEffects, FailurePolicy: &fail, NamespaceSelector: inNamespace, Rules: rules, TimeoutSeconds: ptr.To[int32](10)}
	}
	validate := func(name, path string, rules []admissionv1.RuleWithOperations) admissionv1.ValidatingWebhook {
		return admissionv1.ValidatingWebhook{Name: name, AdmissionReviewVersions: []string{"v1"}, ClientConfig: url(path),
			SideEffects: &sideEffects, FailurePolicy: &fail, NamespaceSelector: inNamespace, Rules: rules, TimeoutSeconds: ptr.To[int32](10)}
	}
	pods := mutate("mutate--v1-pod.sparkoperator.k8s.io", "/mutate--v1-pod", rule("", "pods", create))
	pods.ObjectSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"sparkoperator.k8s.io/launched-by-spark-operator": "true"}}
	m := &admissionv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: webhookName}, Webhooks: []admissionv1.MutatingWebhook{
		pods,
		mutate("mutate-sparkoperator-k8s-io-v1beta2-sparkapplication.sparkoperator.k8s.io", "/mutate-sparkoperator-k8s-io-v1beta2-sparkapplication",
			rule("sparkoperator.k8s.io", "sparkapplications", create, update)),
		mutate("mutate-sparkoperator-k8s-io-v1beta2-scheduledsparkapplication.sparkoperator.k8s.io", "/mutate-sparkoperator-k8s-io-v1beta2-scheduledsparkapplication",
			rule("sparkoperator.k8s.io", "scheduledsparkapplications", create, update)),
	}}
	v := &admissionv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: webhookName}, Webhooks: []admissionv1.ValidatingWebhook{
		validate("validate-sparkoperator-k8s-io-v1beta2-sparkapplication.sparkoperator.k8s.io", "/validate-sparkoperator-k8s-io-v1beta2-sparkapplication",
			rule("sparkoperator.k8s.io", "sparkapplications", create, update)),
		validate("validate-sparkoperator-k8s-io-v1beta2-scheduledsparkapplication.sparkoperator.k8s.io", "/validate-sparkoperator-k8s-io-v1beta2-scheduledsparkapplication",
			rule("sparkoperator.k8s.io", "scheduledsparkapplications", create, update)),
	}}
	return m, v
}

// waitWebhookCA waits until the webhook has put its CA into both
// configurations, so that the API server trusts it.
func (c *Cluster) waitWebhookCA(ctx context.Context) error {
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		m, err := c.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, webhookName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		v, err := c.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, webhookName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, w := range m.Webhooks {
			if len(w.ClientConfig.CABundle) == 0 {
				return false, nil
			}
		}
		for _, w := range v.Webhooks {
			if len(w.ClientConfig.CABundle) == 0 {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("spark operator: the webhook did not fill in its CA bundle: %w", err)
	}
	return nil
}

// start runs the operator's command name with env added to a minimal one.
func (o *SparkOperator) start(name, binary string, env, args []string) error {
	log := filepath.Join(o.dir, name+".log")
	out, err := os.Create(log)
	if err != nil {
		return err
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + o.dir}, env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = out.Close()
		return fmt.Errorf("spark operator %s: %w", name, err)
	}
	p := &operatorProcess{name: name, log: log, cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = out.Close()
		close(p.exited)
	}()
	o.procs = append(o.procs, p)
	return nil
}

// waitReady waits until the process listening for probes on port answers
// /readyz.
func (o *SparkOperator) waitReady(ctx context.Context, port int) error {
	p := o.procs[len(o.procs)-1]
	client := &http.Client{Timeout: 2 * time.Second}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		select {
		case <-p.exited:
			return false, errors.New("it exited")
		default:
		}
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", port))
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return fmt.Errorf("spark operator %s not ready: %w\n%s", p.name, err, o.Log(p.name))
	}
	return nil
}

// Log returns the tail of the log of the operator's process name
// ("controller" or "webhook").
func (o *SparkOperator) Log(name string) string {
	data, err := os.ReadFile(filepath.Join(o.dir, name+".log"))
	if err != nil {
		return err.Error()
	}
	return Tail(string(data), 60)
}

// stop ends the operator's processes: SIGTERM, then SIGKILL after 10 s.
func (o *SparkOperator) stop() {
	for _, p := range o.procs {
		terminate(p.cmd, p.exited, 10*time.Second)
	}
}
