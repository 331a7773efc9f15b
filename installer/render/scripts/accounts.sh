# accounts.sh makes the Docs account and its media bucket, and with
# BACKUP_BUCKET set the backup account and its bucket, in versitygw with the
# admin API as the root account (idempotent: an existing account gets its
# secret updated, an existing bucket its owner set).
set -eu
admin() {
  versitygw admin --access "$ROOT_ACCESS_KEY_ID" --secret "$ROOT_SECRET_ACCESS_KEY" \
    --endpoint-url "$ENDPOINT" "$@"
}
tries=0
until admin list-users >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -lt 60 ] || { echo "the object store does not answer at $ENDPOINT" >&2; exit 1; }
  sleep 5
done
ensure_user() {
  if admin list-users | awk 'NR > 2 {print $1}' | grep -qxF "$1"; then
    admin update-user --access "$1" --secret "$2" --role user
  else
    admin create-user --access "$1" --secret "$2" --role user
  fi
}
ensure_bucket() {
  if admin list-buckets | awk 'NR > 2 {print $1}' | grep -qxF "$1"; then
    admin change-bucket-owner --bucket "$1" --owner "$2"
  else
    admin create-bucket --bucket "$1" --owner "$2"
  fi
}
ensure_user "$DOCS_ACCESS_KEY_ID" "$DOCS_SECRET_ACCESS_KEY"
ensure_bucket "$MEDIA_BUCKET" "$DOCS_ACCESS_KEY_ID"
# The backups bucket only when backups go to this store (backup.mode
# embedded); its folder is the mount point of its own volume.
if [ -n "${BACKUP_BUCKET:-}" ]; then
  ensure_user "$BACKUP_ACCESS_KEY_ID" "$BACKUP_SECRET_ACCESS_KEY"
  ensure_bucket "$BACKUP_BUCKET" "$BACKUP_ACCESS_KEY_ID"
fi
echo "accounts and buckets ready"
