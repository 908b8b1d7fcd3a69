"""Wait until the gateway answers `GET /v1/health` with 200 (every service
behind it, the notifications service too, answers with its database and
broker), then say where it is; exit 1 after the deadline, with the last
answer (up or down: which service did not answer is shown to admins only,
and is in that service's log).

    python scripts/await_health.py [URL] [--timeout SECONDS]
"""
import argparse
import sys
import time

import requests


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url", nargs="?", default="http://localhost:8000")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = requests.get(f"{args.url}/v1/health", timeout=5)
            if response.status_code == 200:
                print(f"ready: the gateway answers at {args.url}", flush=True)
                return 0
            last = f"{response.status_code} {response.text}"
        except requests.RequestException as exc:
            last = str(exc)
        time.sleep(0.2)
    print(f"not healthy after {args.timeout:g} s: {last}", file=sys.stderr, flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
