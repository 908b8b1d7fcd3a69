#!/usr/bin/env bash
# Start each named service with `nameko run` in its own process, in the
# foreground. Ctrl-C (or any service exiting) stops them all.
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

pids=()
stop_all() {
  trap - INT TERM
  kill -TERM "${pids[@]}" 2>/dev/null
  wait
}
trap 'stop_all; exit 0' INT TERM

for service in "$@"; do
  .venv/bin/nameko run --config "services/$service/config.yml" "services.$service.service" &
  pids+=($!)
done
echo "running: $* (Ctrl-C stops them all)"
wait -n
status=$?
echo "a service exited (status $status); stopping the others" >&2
stop_all
exit "$status"
