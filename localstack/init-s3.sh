#!/usr/bin/env bash
# Runs inside LocalStack when it is ready: creates the bucket the lake lives in.
awslocal s3 mb s3://lakegate
