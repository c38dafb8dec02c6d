#!/usr/bin/env bash
# Submits SparkPi to Kubernetes with gang-scheduler: the driver declares its
# 4 executors, so it is bound only when it and all of them fit at once, and
# their room is held for them until they bind.
#
#   executor requests: 2 cores; memory = 4g heap + max(10%, 384Mi) overhead = 4505Mi
#
# The executors run on the batch pool (pool=batch, tainted
# dedicated=batch:NoSchedule): executor-pod-template.yaml gives them the
# node selector and toleration, and driver-pod-template.yaml's
# gangsched.io/executor-template annotation tells gangsched, so their room is
# reserved there.
set -euo pipefail
: "${K8S_API:?set K8S_API to https://<api-server>:<port>}"
: "${SPARK_IMAGE:=apache/spark:3.5.3}"

spark-submit \
  --master "k8s://${K8S_API}" \
  --deploy-mode cluster \
  --name spark-pi \
  --class org.apache.spark.examples.SparkPi \
  --conf spark.kubernetes.container.image="${SPARK_IMAGE}" \
  --conf spark.kubernetes.namespace=spark \
  --conf spark.kubernetes.scheduler.name=gang-scheduler \
  --conf spark.executor.instances=4 \
  --conf spark.executor.cores=2 \
  --conf spark.executor.memory=4g \
  --conf spark.kubernetes.driver.annotation.gangsched.io/executors=4 \
  --conf spark.kubernetes.driver.annotation.gangsched.io/executor-requests=cpu=2,memory=4505Mi \
  --conf spark.kubernetes.driver.label.gangsched.io/queue=analytics \
  --conf spark.kubernetes.driver.podTemplateFile=driver-pod-template.yaml \
  --conf spark.kubernetes.executor.podTemplateFile=executor-pod-template.yaml \
  local:///opt/spark/examples/jars/spark-examples_2.12-3.5.3.jar 1000
