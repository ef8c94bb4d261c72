#!/bin/sh
# The Terraform steps of the CI pipeline of docs/guides/ci-pipeline.md, the same on every CI
# system. Run in the configuration's directory:
#
#   ci.sh plan    pull request: init with the committed lock file, validate, plan into the
#                 saved plan file tfplan, its text into plan.txt (for review) and Terraform's
#                 -detailed-exitcode into plan.exitcode (0 no changes, 2 changes)
#   ci.sh apply   merge to the default branch: init, plan into tfplan, apply exactly that plan
#
# Environment: TERRAFORM (default terraform); TF_BACKEND_CONFIG, a -backend-config file or
# key=value (the shared state); TF_VAR_<name> for every input, credentials from the CI secret
# store; TF_CLI_CONFIG_FILE when the runner installs providers from a mirror.
# Exit status 0 on success (with or without changes); anything else fails the job.
set -eu
TERRAFORM=${TERRAFORM:-terraform}
export TF_IN_AUTOMATION=1 # Terraform's output for logs, not for a terminal
export TF_INPUT=0         # never wait for an answer (each command also says -input=false)

stage=${1:-}
case $stage in
plan | apply) ;;
*)
  echo "usage: ci.sh plan|apply" >&2
  exit 64
  ;;
esac

# -lockfile=readonly: the providers are the ones the lock file pins, or init fails; a pipeline
# never updates the lock file (a person does, with `terraform init -upgrade`, in a pull request).
set -- init -input=false -no-color -lockfile=readonly
if [ -n "${TF_BACKEND_CONFIG:-}" ]; then set -- "$@" "-backend-config=$TF_BACKEND_CONFIG"; fi
"$TERRAFORM" "$@"

rc=0
if [ "$stage" = plan ]; then
  "$TERRAFORM" fmt -check -diff -no-color
  "$TERRAFORM" validate -no-color
  "$TERRAFORM" plan -input=false -no-color -detailed-exitcode -out=tfplan || rc=$?
  case $rc in
  0) echo "ci: no changes" ;;
  2) echo "ci: changes, applied on merge" ;;
  *)
    echo "ci: plan failed (exit $rc)" >&2
    exit "$rc"
    ;;
  esac
  "$TERRAFORM" show -no-color tfplan >plan.txt
  echo "$rc" >plan.exitcode
else
  "$TERRAFORM" plan -input=false -no-color -detailed-exitcode -out=tfplan || rc=$?
  case $rc in
  0) echo "ci: nothing to apply" ;;
  2) "$TERRAFORM" apply -input=false -no-color tfplan ;;
  *)
    echo "ci: plan failed (exit $rc)" >&2
    exit "$rc"
    ;;
  esac
fi
