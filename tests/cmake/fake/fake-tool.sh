#!/bin/sh
# Stand-in for cluster-deploy and local-cluster in the module tests (copied under
# those names). Appends "<name> <args>" to $CLUSTER_DEPLOY_FAKE_LOG and exits 0, or
# exits 1 when "<name>:<first arg>" is listed in $CLUSTER_DEPLOY_FAKE_FAIL. As
# "cluster-deploy run-test ... -- <command>", runs the command as the real one does.
name=$(basename "$0")
printf '%s %s\n' "$name" "$*" >> "${CLUSTER_DEPLOY_FAKE_LOG:?CLUSTER_DEPLOY_FAKE_LOG is not set}"
case " ${CLUSTER_DEPLOY_FAKE_FAIL:-} " in
  *" $name:$1 "*) echo "$name: failing '$1' on request" >&2; exit 1 ;;
esac
if [ "$name" = cluster-deploy ] && [ "$1" = run-test ]; then
  while [ $# -gt 0 ] && [ "$1" != -- ]; do shift; done
  shift
  exec "$@"
fi
exit 0
