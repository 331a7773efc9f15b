{{- define "standin.labels" -}}
app.kubernetes.io/name: standin
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
