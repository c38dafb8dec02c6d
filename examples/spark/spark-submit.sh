#!/usr/bin/env bash
# Submits SparkPi (Python, Spark 4.3.0) to Kubernetes with gang-scheduler and
# waits for it: the driver declares its 2 executors (driver-pod-template.yaml),
# so it is bound only when it and both of them fit at once, and their room is
# held for them until they bind.
#
#   executor requests: 1 core; memory = 512m heap + max(40%, 384Mi) overhead = 896Mi
#
# The executors run on the batch pool (nodes labelled pool=batch, tainted
# dedicated=batch:NoSchedule): executor-pod-template.yaml gives them the node
# selector and toleration, and driver-pod-template.yaml's
# gangsched.io/executor-template annotation tells gangsched, so their room is
# reserved there. test/spark's TestSparkSubmitExample runs this script.
set -euo pipefail
: "${K8S_API:?set K8S_API to https://<api-server>:<port>}"
: "${SPARK_IMAGE:=apache/spark:4.3.0}"
: "${SPARK_NAMESPACE:=spark}"
here="$(cd "$(dirname "$0")" && pwd)"

spark-submit \
  --master "k8s://${K8S_API}" \
  --deploy-mode cluster \
  --name spark-pi \
  --conf spark.kubernetes.container.image="${SPARK_IMAGE}" \
  --conf spark.kubernetes.namespace="${SPARK_NAMESPACE}" \
  --conf spark.kubernetes.scheduler.name=gang-scheduler \
  --conf spark.driver.memory=512m \
  --conf spark.executor.instances=2 \
  --conf spark.executor.cores=1 \
  --conf spark.executor.memory=512m \
  --conf spark.kubernetes.driver.podTemplateFile="${here}/driver-pod-template.yaml" \
  --conf spark.kubernetes.executor.podTemplateFile="${here}/executor-pod-template.yaml" \
  local:///opt/spark/examples/src/main/python/pi.py 10
