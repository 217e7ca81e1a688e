{{/* Names: <fullname> is the release name, or <release>-canarist when it lacks "canarist". */}}
{{- define "canarist.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "canarist.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "canarist.webhook" -}}{{ include "canarist.fullname" . }}-webhook{{- end -}}
{{- define "canarist.reconciler" -}}{{ include "canarist.fullname" . }}-reconciler{{- end -}}
{{- define "canarist.proxy" -}}{{ include "canarist.fullname" . }}-proxy{{- end -}}
{{- define "canarist.dashboard" -}}{{ include "canarist.fullname" . }}-dashboard{{- end -}}
{{- define "canarist.certSecret" -}}{{ include "canarist.fullname" . }}-webhook-tls{{- end -}}
{{- define "canarist.webhookConfig" -}}{{ include "canarist.fullname" . }}{{- end -}}
{{- define "canarist.policies" -}}{{ include "canarist.fullname" . }}-policies{{- end -}}
{{- /* The policies' namespaces by name, minus those the webhook never serves (a JSON list). */ -}}
{{- define "canarist.policyNamespaces" -}}
{{- $excluded := concat (list "kube-system" "kube-node-lease" .Release.Namespace) .Values.webhook.excludeNamespaces -}}
{{- $named := list -}}
{{- range .Values.policies -}}
{{- range (.namespaces | default list) -}}
{{- if not (has . $excluded) -}}{{- $named = append $named . -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- $named | uniq | sortAlpha | toJson -}}
{{- end -}}
{{- /* "true" when a policy selects namespaces by label (the Namespaces must be watched). */ -}}
{{- define "canarist.policiesSelectNamespaces" -}}
{{- $found := false -}}
{{- range .Values.policies -}}{{- if .namespaceSelector -}}{{- $found = true -}}{{- end -}}{{- end -}}
{{- $found -}}
{{- end -}}

{{/* The namespace canarist watches: every one, or watchNamespace. */}}
{{- define "canarist.watchNamespace" -}}
{{- if .Values.clusterInstall -}}{{- else -}}{{ .Values.watchNamespace }}{{- end -}}
{{- end -}}

{{- define "canarist.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "canarist.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: canarist
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of a component: (dict "ctx" $ "component" "webhook") */}}
{{- define "canarist.selector" -}}
app.kubernetes.io/name: {{ include "canarist.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "canarist.componentLabels" -}}
{{ include "canarist.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "canarist.image" -}}
{{- $image := .Values.image -}}
{{- $repo := $image.repository -}}
{{- if $image.registry }}{{ $repo = printf "%s/%s" $image.registry $image.repository }}{{ end -}}
{{- if $image.digest -}}
{{ $repo }}@{{ $image.digest }}
{{- else -}}
{{ $repo }}:{{ default .Chart.AppVersion $image.tag }}
{{- end -}}
{{- end -}}

{{/* Everything of a pod spec that is the same for each component:
     (dict "ctx" $ "values" .Values.webhook "component" "webhook") */}}
{{- define "canarist.podCommon" -}}
{{- $ctx := .ctx -}}
{{- with $ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $ctx.Values.podSecurityContext | nindent 2 }}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .values.affinity }}
affinity:
  {{- toYaml .values.affinity | nindent 2 }}
{{- else if gt (int .values.replicas) 1 }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "canarist.selector" (dict "ctx" $ctx "component" .component) | nindent 14 }}
{{- end }}
{{- with .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- range . }}
  {{- $default := dict "labelSelector" (dict "matchLabels" (include "canarist.selector" (dict "ctx" $ctx "component" $.component) | fromYaml)) }}
  - {{ toYaml (merge (deepCopy .) $default) | nindent 4 | trim }}
  {{- end }}
{{- end }}
{{- end -}}

{{- define "canarist.podMetadata" -}}
labels:
  {{- include "canarist.componentLabels" (dict "ctx" .ctx "component" .component) | nindent 2 }}
  {{- with .values.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with .values.podAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "canarist.containerSecurity" -}}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
{{- end -}}

{{- /* What every webhook entry of the configuration shares. */ -}}
{{- define "canarist.webhookEntry" -}}
admissionReviewVersions: [v1]
sideEffects: None
failurePolicy: {{ .Values.webhook.failurePolicy }}
timeoutSeconds: {{ .Values.webhook.timeoutSeconds }}
matchPolicy: Equivalent
reinvocationPolicy: Never
clientConfig:
  service:
    name: {{ include "canarist.webhook" . }}
    namespace: {{ .Release.Namespace }}
    path: /mutate
    port: 443
rules:
  - apiGroups: [apps]
    apiVersions: [v1]
    operations: [CREATE, UPDATE]
    resources: [deployments, deployments/status]
    scope: Namespaced
{{- end -}}

{{- /* The policy entries skip labelled Deployments: the opt-in entry reviews those. */ -}}
{{- define "canarist.notLabelled" -}}
matchExpressions:
  - key: canarist.io/enabled
    operator: NotIn
    values: ["true"]
{{- end -}}
