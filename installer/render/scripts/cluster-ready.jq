# From `kubectl get clusters.postgresql.cnpg.io NAME -o json`: true once
# the Cluster is Ready and every instance is ready, false before.
.spec.instances as $want | (.status.readyInstances // 0) as $ready
| ([.status.conditions[]? | select(.type == "Ready" and .status == "True")] | length > 0) and $want > 0 and $ready == $want
