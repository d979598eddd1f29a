"""Runs as the server inside the cell: calls STS GetCallerIdentity with boto3, using only the
credentials mcpcell delivered (environment), and prints the caller's ARN."""
import os

import boto3

sts = boto3.client("sts", endpoint_url=os.environ["STS_URL"], region_name="us-east-1")
print("ARN " + sts.get_caller_identity()["Arn"], flush=True)
