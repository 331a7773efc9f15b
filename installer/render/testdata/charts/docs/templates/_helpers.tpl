{{- define "docs.fullname" -}}
{{- if .Values.fullnameOverride -}}{{ .Values.fullnameOverride }}{{- else -}}{{ printf "%s-docs" .Release.Name }}{{- end -}}
{{- end -}}

{{/* name: value or name: {secretKeyRef|configMapKeyRef}, as upstream's env dict. */}}
{{- define "docs.env" -}}
{{- range $name, $v := . }}
- name: {{ $name | quote }}
{{- if kindIs "map" $v }}
  valueFrom: {{- toYaml $v | nindent 4 }}
{{- else }}
  value: {{ $v | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "docs.probe" -}}
httpGet:
  path: {{ .path }}
  port: {{ .targetPort }}
initialDelaySeconds: {{ .initialDelaySeconds | default 0 }}
timeoutSeconds: {{ .timeoutSeconds | default 1 }}
{{- end -}}

{{/* A Deployment: name, component, replicas, image, command, args, env (rendered), probes, port, resources, annotations, securityContext. */}}
{{- define "docs.deployment" -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .name }}
  labels: {app.kubernetes.io/name: docs, app.kubernetes.io/component: {{ .component }}}
spec:
  replicas: {{ .replicas }}
  selector: {matchLabels: {app.kubernetes.io/name: docs, app.kubernetes.io/component: {{ .component }}}}
  template:
    metadata:
      labels: {app.kubernetes.io/name: docs, app.kubernetes.io/component: {{ .component }}}
      {{- with .annotations }}
      annotations: {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      containers:
        - name: docs
          image: "{{ .image.repository }}:{{ .image.tag }}"
          imagePullPolicy: {{ .image.pullPolicy }}
          {{- with .command }}
          command: {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with .args }}
          args: {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- if .env }}
          env: {{- .env | indent 12 }}
          {{- end }}
          {{- with .securityContext }}
          securityContext: {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- if .port }}
          ports:
            - {name: http, containerPort: {{ .port }}, protocol: TCP}
          {{- end }}
          {{- with .probes.liveness }}
          livenessProbe: {{- include "docs.probe" (merge (dict "targetPort" $.port) .) | nindent 12 }}
          {{- end }}
          {{- with .probes.readiness }}
          readinessProbe: {{- include "docs.probe" (merge (dict "targetPort" $.port) .) | nindent 12 }}
          {{- end }}
          {{- with .resources }}
          resources: {{- toYaml . | nindent 12 }}
          {{- end }}
{{- end -}}

{{- define "docs.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ .name }}
spec:
  type: ClusterIP
  selector: {app.kubernetes.io/name: docs, app.kubernetes.io/component: {{ .component }}}
  ports:
    - {name: http, port: {{ .service.port }}, targetPort: {{ .service.targetPort }}, protocol: TCP}
{{- end -}}

{{/* A plain Job (upstream's are not hooks), with backend.envVars only. */}}
{{- define "docs.job" -}}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .name }}
spec:
  ttlSecondsAfterFinished: {{ .root.Values.backend.jobs.ttlSecondsAfterFinished }}
  backoffLimit: {{ .root.Values.backend.jobs.backoffLimit }}
  template:
    metadata:
      {{- with .root.Values.backend.podAnnotations }}
      annotations: {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      restartPolicy: Never
      containers:
        - name: docs
          image: "{{ .root.Values.image.repository }}:{{ .root.Values.image.tag }}"
          imagePullPolicy: {{ .root.Values.image.pullPolicy }}
          command: {{- toYaml .command | nindent 12 }}
          env: {{- include "docs.env" .root.Values.backend.envVars | indent 12 }}
          {{- with .root.Values.backend.securityContext }}
          securityContext: {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with .root.Values.backend.resources }}
          resources: {{- toYaml . | nindent 12 }}
          {{- end }}
{{- end -}}
