{{- define "kyverno.image" -}}
{{ .registry }}/{{ .repository }}:{{ .tag }}
{{- end -}}
