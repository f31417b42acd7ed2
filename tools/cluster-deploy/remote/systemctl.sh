#!/bin/sh
# systemctl.sh <cluster> start|restart|stop <service>   (run as root)
#
# start/restart do not wait (a Raft member may only become ready with its peers): the
# controller's health checks wait instead. stop of a unit that is not installed succeeds.
# shellcheck source=prelude.sh
. ./prelude.sh
unit=$(unit_name "$3")
case $2 in
start | restart)
  systemctl reset-failed "$unit" 2>/dev/null
  exec systemctl "$2" --no-block "$unit"
  ;;
stop)
  systemctl stop "$unit"
  rc=$?
  [ $rc -eq 5 ] && exit 0
  exit $rc
  ;;
esac
exit 2
