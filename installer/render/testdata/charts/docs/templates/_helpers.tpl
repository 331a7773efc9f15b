{{- define "docs.fullname" -}}
{{- if .Values.fullnameOverride -}}{{ .Values.fullnameOverride }}{{- else -}}{{ printf "%s-docs" .Release.Name }}{{- end -}}
{{- end -}}
{{- define "docs.env" -}}
{{- range $name, $v := . }}
- name: {{ $name }}
{{- if kindIs "map" $v }}
  valueFrom: {{- toYaml $v | nindent 4 }}
{{- else }}
  value: {{ $v | quote }}
{{- end }}
{{- end }}
{{- end -}}
{{- define "docs.deployment" -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .name }}
spec:
  replicas: {{ .replicas }}
  selector: {matchLabels: {app: {{ .name }}}}
  template:
    metadata:
      labels: {app: {{ .name }}}
      {{- with .annotations }}
      annotations: {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      containers:
        - name: main
          image: "{{ .image.repository }}:{{ .image.tag }}"
          imagePullPolicy: {{ .image.pullPolicy }}
          resources: {{- toYaml .resources | nindent 12 }}
          env: {{- include "docs.env" .env | indent 12 }}
{{- end -}}
