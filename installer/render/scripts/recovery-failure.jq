# From `kubectl get pods -o json` of the throwaway cluster: the first
# container of its full-recovery pod that exited with an error, as
# "pod container exitCode"; nothing while none has.
[.items[] | select(.metadata.name | contains("full-recovery")) | . as $p
  | ((.status.initContainerStatuses // []) + (.status.containerStatuses // []))[]
  | (.state.terminated // .lastState.terminated) as $t
  | select($t != null and $t.exitCode != 0)
  | "\($p.metadata.name) \(.name) \($t.exitCode)"] | first // empty
