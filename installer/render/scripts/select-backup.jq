# The newest completed Backup of cluster $source, from `kubectl get
# backups.postgresql.cnpg.io -o json`, as "name backupId stoppedAt";
# nothing when there is none. A running or failed backup is never picked,
# nor one without the barman backup ID the recovery is pinned to.
[.items[]
  | select(.spec.cluster.name == $source and .status.phase == "completed"
      and (.status.backupId // "") != "" and (.status.stoppedAt // "") != "")]
| sort_by(.status.stoppedAt) | last
| if . == null then empty else "\(.metadata.name) \(.status.backupId) \(.status.stoppedAt)" end
