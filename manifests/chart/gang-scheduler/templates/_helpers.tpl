{{/* The labels every object of the release carries. */}}
{{- define "gang-scheduler.labels" -}}
app.kubernetes.io/name: gang-scheduler
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The labels the Deployment selects its pods by, as manifests/deployment.yaml. */}}
{{- define "gang-scheduler.selectorLabels" -}}
app.kubernetes.io/name: gang-scheduler
{{- end -}}

{{/* The ServiceAccount every binding names. */}}
{{- define "gang-scheduler.subject" -}}
- kind: ServiceAccount
  name: gang-scheduler
  namespace: {{ .Release.Namespace }}
{{- end -}}
