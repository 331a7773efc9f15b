# The error entries of a CloudNativePG container's JSON log (level error,
# or a program's stderr as the barman-cloud plugin streams it), as
# "[logger: ]message[: error]". Run with -R: lines that are not JSON are skipped.
fromjson? | select(type == "object" and (.level == "error" or .pipe == "stderr"))
| (if (.logger // "") != "" then .logger + ": " else "" end) + (.msg // "") + (if (.error // "") != "" then ": " + .error else "" end)
