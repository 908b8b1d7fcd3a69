"""Sign-in floods: 50 sign-ins at once, at the production argon2id cost
(`PASSWORD_TIME_COST`, `PASSWORD_MEMORY_KIB`: 64 MiB each) and RPC
timeout, while readers keep reading a draft event, each read asking the
roles service `check_session` and `has_access`.

The roles service hashes at most `PASSWORD_HASHES_AT_ONCE` passwords at a
time, lets `PASSWORD_HASHES_WAITING` more wait and refuses the rest at once
(503 `passwords_busy`), so its other workers stay free: every read answers
200, none 503 (which a read waiting longer than `RPC_TIMEOUT` for a roles
worker would be). The reads' p99 is written down beside the same reads'
p99 before the flood, not bounded: on a shared machine it measures the
machine as much as the system. A sign-in refused with a 503 is sent again after its
`Retry-After`, as a careful client does; every one succeeds in the end.
The rate limits are the test system's roomy ones: a flood from many
addresses meets none.
"""
import time
from collections import Counter

import eventlet
import pytest
import requests

from bench.common import percentile
from services.roles.settings import RolesSettings
from shared.settings import ServiceSettings
from tests.reliability import flows
from tests.support.http import PASSWORD, Api

pytestmark = pytest.mark.timeout(600)  # a busy machine slows heavy work most
SYSTEM_ENV = {name: str(model.model_fields[name].default) for model, name in (
    (RolesSettings, "PASSWORD_TIME_COST"), (RolesSettings, "PASSWORD_MEMORY_KIB"),
    (ServiceSettings, "RPC_TIMEOUT"))}
SIGN_INS = 50
ACCOUNTS = 10  # each signed in SIGN_INS / ACCOUNTS times
READERS = 10
BASELINE_SECONDS = 3


def test_a_sign_in_flood_leaves_reads_answering(system, report):
    owner = flows.sign_up(system, "owner", verified=False)
    event = flows.create_event(owner, "Flooded")
    accounts = [flows.sign_up(system, "flooder", verified=False).email for _ in range(ACCOUNTS)]

    def read_while(going):
        api, answers = owner.session(), []
        while going():
            started = time.monotonic()
            try:
                response = api.get(f"/v1/events/{event['id']}", timeout=30)
                status = response.status_code
                code = None if status == 200 else response.json().get("code")
            except requests.RequestException as exc:
                status, code = type(exc).__name__, None
            answers.append((status, code, time.monotonic() - started))
            eventlet.sleep(0.02)
        return answers

    baseline_end = time.monotonic() + BASELINE_SECONDS
    before = _gathered(eventlet.GreenPool(READERS).imap(
        lambda _: read_while(lambda: time.monotonic() < baseline_end), range(READERS)))

    sign_ins = [eventlet.spawn(_sign_in, Api(system.base_url), accounts[n % ACCOUNTS])
                for n in range(SIGN_INS)]
    flooding = lambda: not all(thread.dead for thread in sign_ins)  # noqa: E731
    readers = [eventlet.spawn(read_while, flooding) for _ in range(READERS)]
    started = time.monotonic()
    outcomes = [thread.wait() for thread in sign_ins]
    flood_seconds = time.monotonic() - started
    during = _gathered(thread.wait() for thread in readers)

    signed_in = sum(response.status_code == 200 for response, _ in outcomes)
    refused = sum((refusals for _, refusals in outcomes), Counter())
    failed_reads = [(status, code) for status, code, _ in during if status != 200]
    p99_before = percentile([seconds for *_, seconds in before], 0.99)
    p99 = percentile([seconds for *_, seconds in during], 0.99)
    passed = signed_in == SIGN_INS and not failed_reads
    report(scenario="sign-in flood", injected=f"{SIGN_INS} sign-ins at once at the production "
           f"argon2id cost, {READERS} readers of a draft event", requested=SIGN_INS,
           completed=signed_in, lost=SIGN_INS - signed_in, duplicated=0, passed=passed,
           refused_503=dict(refused), flood_seconds=round(flood_seconds, 1),
           reads=len(during), reads_not_200=len(failed_reads),
           read_p99_ms_before=round(p99_before * 1000), read_p99_ms=round(p99 * 1000))

    assert signed_in == SIGN_INS, [response.text for response, _ in outcomes]
    assert not failed_reads, failed_reads[:10]


def _sign_in(api, email):
    return flows.send_patiently(lambda: api.post("/v1/auth/token",
                                                 {"email": email, "password": PASSWORD}))


def _gathered(answers_per_reader):
    return [answer for answers in answers_per_reader for answer in answers]
