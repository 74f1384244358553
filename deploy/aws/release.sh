#!/usr/bin/env bash
# Release one image to a deployed stack: migrations first, then the services roll (docs/deploy.md).
#
#   deploy/aws/release.sh IMAGE_TAG
#   BOOTSTRAP=1 deploy/aws/release.sh IMAGE_TAG    first release, or after rotating a database password:
#                                                  `pocdojo db bootstrap` runs before the migrations
#
# Environment: AWS credentials and AWS_REGION as for the AWS CLI; CONTEXT: the same `-c key=value` list
# given to `make synth` for this deployment; STACK (default pocdojo). Needs the AWS CLI v2, Node.js
# (npx runs the CDK CLI) and make. No Lambda, no Step Functions: this script is the orchestrator.
set -euo pipefail

tag=${1:?usage: release.sh IMAGE_TAG}
stack=${STACK:-pocdojo}
cdk=(npx --yes aws-cdk@2)

output() {
  aws cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}

# shellcheck disable=SC2086  # CONTEXT is a list of words on purpose
make synth CONTEXT="${CONTEXT:-}"

# 1. Point the migration task definition at the new image; ImageTag and CertificateArn keep their
#    previous values (the CDK CLI reuses unspecified parameters), so no service changes yet.
"${cdk[@]}" deploy --app deploy/aws/cdk.out "$stack" --require-approval never \
  --parameters "MigrationImageTag=$tag"

# Run a one-off task definition (a stack output) once in the task subnets; fail unless it exits 0.
run_once() {
  local definition=$1 container=$2 cluster task_arn exit_code
  cluster=$(output ClusterName)
  task_arn=$(aws ecs run-task \
    --cluster "$cluster" \
    --task-definition "$(output "$definition")" \
    --launch-type FARGATE \
    --network-configuration "awsvpcConfiguration={subnets=[$(output TaskSubnets)],securityGroups=[$(output TaskSecurityGroup)],assignPublicIp=DISABLED}" \
    --query 'tasks[0].taskArn' --output text)
  echo "$container task: $task_arn"
  aws ecs wait tasks-stopped --cluster "$cluster" --tasks "$task_arn"
  exit_code=$(aws ecs describe-tasks --cluster "$cluster" --tasks "$task_arn" \
    --query "tasks[0].containers[?name=='$container'].exitCode | [0]" --output text)
  if [ "$exit_code" != "0" ]; then
    echo "$container failed (exit $exit_code): the services keep the previous image; see the /$stack/$container logs" >&2
    exit 1
  fi
}

# 2. Once: the database roles and database. Every release: `pocdojo migrate up` as the owner role.
if [ "${BOOTSTRAP:-0}" = "1" ]; then
  run_once BootstrapTaskDefinition bootstrap
fi
run_once MigrationTaskDefinition migrate

# 3. Roll the services to the new image (circuit breaker: a release that never gets healthy rolls back).
"${cdk[@]}" deploy --app deploy/aws/cdk.out "$stack" --require-approval never \
  --parameters "ImageTag=$tag" --parameters "MigrationImageTag=$tag"
