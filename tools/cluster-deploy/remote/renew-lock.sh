#!/bin/sh
# renew-lock.sh <cluster>   (run as root)
#
# Renews this run's lock on the node while the run waits for its turn elsewhere (the
# controller calls it every quarter lease for every node it holds): the prelude, which every
# script of the run starts with, does the renewing. Exits 5 when the lock is not this run's
# any more (the node was taken over: its lease ran out or its connection looked gone).
set -eu
# shellcheck source=prelude.sh
. ./prelude.sh
if [ "${lock_run:-}" != "${CLUSTER_DEPLOY_RUN:-}" ]; then
  echo "the lock is not this run's any more (held by ${lock_run:-nobody})" >&2
  exit 5
fi
