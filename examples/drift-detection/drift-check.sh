#!/bin/sh
# Drift check for one root module: `plan -detailed-exitcode` against the live cluster.
#
#   drift-check.sh [ROOT_DIR]
#
# Exit 0: no drift. Exit 2: drift — the plan is written to $DRIFT_REPORT and, when
# DRIFT_ISSUE_TOKEN is set, an issue labelled `drift` is opened in the project (or commented on
# when one is already open). Exit 1: the check itself failed.
#
# Environment: TF (default `tofu`; `terraform` works the same), TF_CLI_CONFIG_FILE (the
# provider_installation block), DRIFT_REPORT (default ./drift-report.txt), and for issues
# DRIFT_ISSUE_TOKEN (project access token, `api` scope), CI_API_V4_URL, CI_PROJECT_ID,
# CI_PIPELINE_URL (set by GitLab CI).
set -u

root="${1:-.}"
tf="${TF:-tofu}"
report="${DRIFT_REPORT:-$PWD/drift-report.txt}"
plan_file="drift.tfplan"

cd "$root" || { echo "drift-check: no directory $root" >&2; exit 1; }
trap 'rm -f "$plan_file"' EXIT

"$tf" init -input=false -no-color >&2 || { echo "drift-check: init failed" >&2; exit 1; }

# -lock=false: a read-only check must never block a deploy holding the state lock.
"$tf" plan -detailed-exitcode -input=false -lock=false -no-color -out="$plan_file"
code=$?

case "$code" in
  0)
    echo "drift-check: no drift in $root"
    : >"$report"
    exit 0
    ;;
  2) ;;
  *)
    echo "drift-check: plan failed (exit $code)" >&2
    exit 1
    ;;
esac

# Sensitive values are masked by `show`; the runner token is write-only and never in a plan.
"$tf" show -no-color "$plan_file" >"$report"
echo "drift-check: DRIFT in $root — the plan is in $report"

if [ -n "${DRIFT_ISSUE_TOKEN:-}" ]; then
  api="${CI_API_V4_URL:?}/projects/${CI_PROJECT_ID:?}"
  title="Drift detected in $root"
  body="$(mktemp)"
  {
    printf 'The scheduled drift check found changes made outside Terraform in `%s`.\n\n' "$root"
    printf 'Pipeline: %s\n\nRun `apply` to restore the configuration, or change the configuration to match.\n\n' "${CI_PIPELINE_URL:-}"
    printf '```\n'
    head -c 60000 "$report"
    printf '\n```\n'
  } >"$body"
  existing="$(curl --fail -sS -H "PRIVATE-TOKEN: $DRIFT_ISSUE_TOKEN" -G "$api/issues" \
    --data-urlencode "state=opened" --data-urlencode "labels=drift" \
    --data-urlencode "search=$title" --data-urlencode "in=title" | jq -r '.[0].iid // empty')"
  if [ -n "$existing" ]; then
    curl --fail -sS -o /dev/null -H "PRIVATE-TOKEN: $DRIFT_ISSUE_TOKEN" \
      "$api/issues/$existing/notes" --data-urlencode "body@$body" &&
      echo "drift-check: commented on issue #$existing"
  else
    curl --fail -sS -o /dev/null -H "PRIVATE-TOKEN: $DRIFT_ISSUE_TOKEN" "$api/issues" \
      --data-urlencode "title=$title" --data-urlencode "labels=drift" \
      --data-urlencode "description@$body" &&
      echo "drift-check: opened an issue"
  fi
  rm -f "$body"
fi
exit 2
