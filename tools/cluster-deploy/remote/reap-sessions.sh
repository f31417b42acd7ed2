#!/bin/sh
# reap-sessions.sh   (run as the login user, on a new channel of a connection)
#
# Kills the process group of every other session of this connection: a command the
# controller gave up on (its timeout ran out) whose KILL signal sshd refused (it does for
# root logins). Each session is a child of the sshd process that serves the connection
# ($PPID), which made it a session and process group leader (setsid). Needs only /proc and
# a POSIX sh (dash's kill takes no "--").
for f in /proc/[0-9]*/stat; do
  read -r s 2>/dev/null <"$f" || continue
  # shellcheck disable=SC2086 # the fields after the command name, one word each
  set -- ${s##*') '}
  p=${f%/stat}
  p=${p#/proc/}
  if [ "$2" = "$PPID" ] && [ "$p" != "$$" ]; then kill -KILL -"$p" 2>/dev/null; fi
done
exit 0
