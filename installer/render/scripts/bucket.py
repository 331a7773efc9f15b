# bucket.py checks a bucket with boto3, as Docs will use it, and with
# --versioning turns versioning on and proves it is on and that versions
# can be listed (document history calls list_object_versions). It runs in
# Docs' backend image, which carries boto3: no other image to ship.
import argparse, os, sys
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

parser = argparse.ArgumentParser()
parser.add_argument("--bucket", required=True)
parser.add_argument("--versioning", action="store_true")
# --prefix P: a write, read and delete under P instead of HeadBucket (an
# account may hold rights on that prefix only), for the backup target.
parser.add_argument("--prefix")
args = parser.parse_args()

s3 = boto3.client(
    "s3",
    endpoint_url=os.environ["S3_ENDPOINT_URL"],
    region_name=os.environ["S3_REGION"],
    aws_access_key_id=os.environ["S3_ACCESS_KEY_ID"],
    aws_secret_access_key=os.environ["S3_SECRET_ACCESS_KEY"],
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                  retries={"max_attempts": 10, "mode": "standard"}),
)

def fail(message):
    print(f"bucket {args.bucket}: {message}", file=sys.stderr)
    sys.exit(1)

if args.prefix is not None:
    key = f"{args.prefix}.docs-appliance-check/{os.urandom(8).hex()}"
    body = b"docs-appliance check\n"
    try:
        s3.put_object(Bucket=args.bucket, Key=key, Body=body)
        got = s3.get_object(Bucket=args.bucket, Key=key)["Body"].read()
        s3.delete_object(Bucket=args.bucket, Key=key)
    except ClientError as e:
        fail(f"writing, reading and deleting {key} failed with these credentials: {e}")
    if got != body:
        fail(f"{key} read back differs from what was written")
    print(f"bucket {args.bucket}: write, read and delete under {args.prefix or 'the root'} passed")
    sys.exit(0)

try:
    s3.head_bucket(Bucket=args.bucket)
except ClientError as e:
    fail(f"cannot be reached with these credentials: {e}")

if args.versioning:
    status = s3.get_bucket_versioning(Bucket=args.bucket).get("Status")
    if status != "Enabled":
        try:
            s3.put_bucket_versioning(Bucket=args.bucket, VersioningConfiguration={"Status": "Enabled"})
        except ClientError as e:
            fail(f"versioning is {status or 'off'} and cannot be turned on ({e}); Docs needs it: enable it on the bucket")
        status = s3.get_bucket_versioning(Bucket=args.bucket).get("Status")
    if status != "Enabled":
        fail(f"versioning is {status or 'off'} after enabling it; Docs needs a store that supports versioning")
    try:
        s3.list_object_versions(Bucket=args.bucket, MaxKeys=1)
    except ClientError as e:
        fail(f"object versions cannot be listed ({e}); Docs' document history needs it")
    print(f"bucket {args.bucket}: reachable, versioning enabled")
else:
    print(f"bucket {args.bucket}: reachable")
