{{- define "op.webhook" -}}{{ .Release.Name }}-webhook{{- end }}
{{- define "op.reconciler" -}}{{ .Release.Name }}-reconciler{{- end }}
{{- define "op.certs" -}}{{ .Release.Name }}-certs{{- end }}
{{- define "op.secret" -}}{{ .Release.Name }}-webhook-tls{{- end }}
{{- /* cluster-scoped names carry the namespace: one release per namespace may exist */ -}}
{{- define "op.cluster" -}}{{ .Release.Namespace }}-{{ .Release.Name }}{{- end }}
