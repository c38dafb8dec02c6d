package cluster

import (
	"slices"
	"testing"
)

func TestMountTableRewrite(t *testing.T) {
	m := mountTable{{"/opt/spark/conf", "/tmp/p/conf"}, {"/var/data", "/tmp/p/data"}}
	for in, want := range map[string]string{
		"/opt/spark/conf":                         "/tmp/p/conf",
		"/opt/spark/conf/spark.properties":        "/tmp/p/conf/spark.properties",
		"--properties-file=/opt/spark/conf/x":     "--properties-file=/tmp/p/conf/x",
		"/var/data:/opt/spark/conf":               "/tmp/p/data:/tmp/p/conf",
		"/opt/spark/conf2":                        "/opt/spark/conf2",
		"local:///opt/spark/examples/pi.py":       "local:///opt/spark/examples/pi.py",
		"spark.local.dir /var/data/spark-1234 \n": "spark.local.dir /tmp/p/data/spark-1234 \n",
	} {
		if got := m.rewrite(in); got != want {
			t.Errorf("rewrite(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestJavaOptsInEntrypointOrder(t *testing.T) {
	got := javaOpts(map[string]string{"SPARK_JAVA_OPT_10": "-Dc", "SPARK_JAVA_OPT_2": "-Db", "SPARK_JAVA_OPT_0": "-Da", "SPARK_HOME": "/x"})
	if want := []string{"-Da", "-Db", "-Dc"}; !slices.Equal(got, want) {
		t.Errorf("javaOpts = %v, want %v", got, want)
	}
}
