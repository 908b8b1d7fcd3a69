#!/usr/bin/env bash
# Start each named service with `nameko run` in its own process, in the
# foreground, and say where the gateway answers once every service is
# healthy. Ctrl-C (or any service exiting) stops them all.
#
# Beside them the mail catcher, `$MAILDEV` (the Makefile's command line,
# SMTP on 127.0.0.1:$MAIL_SMTP, inbox on port $MAIL_WEB), unless something
# listens on that SMTP port already; it is stopped with them.
#
# Each service runs with `python -m shared.serve` (nameko's runner, which
# stops within STOP_GRACE_SECONDS whatever signals arrive), in a process
# group of its own (job control), so that only this script signals it.
set -um
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# local defaults: the development keys and secrets (production refuses them)
export ENVIRONMENT="${ENVIRONMENT:-development}"
# webhooks to a receiver on this machine, over plain HTTP (production refuses both)
if [ "$ENVIRONMENT" != production ]; then
  export WEBHOOK_ALLOW_HTTP="${WEBHOOK_ALLOW_HTTP:-true}" WEBHOOK_ALLOW_LOOPBACK="${WEBHOOK_ALLOW_LOOPBACK:-true}"
fi

pids=()
waiter=
catcher=
stop_all() {
  trap - INT TERM
  kill -TERM "${pids[@]}" $waiter $catcher 2>/dev/null
  wait
}
trap 'stop_all; exit 0' INT TERM

if [ -n "${MAILDEV:-}" ]; then
  if (exec 3<>"/dev/tcp/127.0.0.1/$MAIL_SMTP") 2>/dev/null; then
    echo "mail: something listens on 127.0.0.1:$MAIL_SMTP already; the mails go there"
  else
    $MAILDEV --silent &
    catcher=$!
    echo "mail: maildev catches every mail; the inbox is at http://127.0.0.1:$MAIL_WEB"
  fi
fi

for service in "$@"; do
  .venv/bin/python -m shared.serve "$service" &
  pids+=($!)
done
echo "starting: $* (Ctrl-C stops them all)"
port=${GATEWAY_ADDRESS:-0.0.0.0:8000}; port=${port##*:}
.venv/bin/python scripts/await_health.py "http://localhost:$port" &
waiter=$!
wait -n "${pids[@]}"
status=$?
echo "a service exited (status $status); stopping the others" >&2
stop_all
exit "$status"
