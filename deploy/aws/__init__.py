"""POC Dojo on AWS as code: a CDK app (`python -m deploy.aws.app`) that synthesizes offline.

`config` reads the app's context, `stack` composes the constructs of one region (network, data,
identity, edge, compute, turn, observability), `registry` holds the image repository. Nothing here
runs a Lambda function: every resource is native CloudFormation (see docs/deploy.md).
"""
