{{- define "gitlab-runner.fullname" -}}
{{- if hasPrefix "gitlab-runner" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "gitlab-runner.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" -}}
{{- end -}}

{{- define "gitlab-runner.labels" -}}
app: {{ include "gitlab-runner.fullname" . }}
chart: {{ include "gitlab-runner.chart" . }}
release: {{ .Release.Name | quote }}
heritage: {{ .Release.Service | quote }}
{{- end -}}

{{- define "gitlab-runner.createServiceAccount" -}}
{{- if kindIs "bool" .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.create -}}
{{- else -}}
{{- .Values.rbac.create -}}
{{- end -}}
{{- end -}}

{{- define "gitlab-runner.serviceAccountName" -}}
{{- if .Values.serviceAccount.name -}}
{{- .Values.serviceAccount.name -}}
{{- else if eq (include "gitlab-runner.createServiceAccount" .) "true" -}}
{{- include "gitlab-runner.fullname" . -}}
{{- else -}}
default
{{- end -}}
{{- end -}}

{{- define "gitlab-runner.secretName" -}}
{{- default (include "gitlab-runner.fullname" .) .Values.runners.secret -}}
{{- end -}}

{{- define "gitlab-runner.image" -}}
{{- $tag := default (printf "alpine-v%s" .Chart.AppVersion) .Values.image.tag -}}
{{- if .Values.image.registry -}}
{{- printf "%s/%s:%s" .Values.image.registry .Values.image.image $tag -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.image $tag -}}
{{- end -}}
{{- end -}}
