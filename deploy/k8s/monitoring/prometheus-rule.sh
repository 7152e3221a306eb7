#!/usr/bin/env bash
# Prints Spool's alert rules (deploy/observability/prometheus/alerts.yml, the one place they are
# written) as a PrometheusRule for the Prometheus Operator:
#   bash deploy/k8s/monitoring/prometheus-rule.sh | kubectl apply -n <namespace> -f -
# Add the label your Prometheus's ruleSelector wants with `kubectl label` after, or edit here.
set -euo pipefail
rules="$(dirname "${BASH_SOURCE[0]}")/../../observability/prometheus/alerts.yml"
printf 'apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  name: spool\n  labels:\n    app.kubernetes.io/part-of: spool\nspec:\n'
sed -e '/^#/d' -e 's/^/  /' "$rules"
