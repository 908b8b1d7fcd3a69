"""`make demo`: the whole story against a running system, over HTTP only.

Ana and Ben sign up; Ben opens the link mailed to him, which verifies his
email (only a verified email may accept an invitation). Ana creates an
event with its children, images and an order; she invites Ben as
coorganizer, and Ben accepts by the link in the invitation mail; he copies
the event; the script shows what the copy holds, and that its images are
its own URLs serving the same bytes.

Run `make run` first: GATEWAY_URL (default http://localhost:8000) says
where the gateway answers, MAILDEV_URL (default http://127.0.0.1:1080)
where the mail catcher `make run` starts shows the mails (its REST API,
`GET /api/email`; open the same address in a browser to see the inbox). It
speaks HTTP through the tests' client (`tests.support.http`; `make demo`
sets PYTHONPATH to the project).
"""
import io
import os
import re
import sys
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import requests
from PIL import Image

from tests.support.http import Api, UnexpectedAnswer, expect, ok, sign_up

BASE = os.environ.get("GATEWAY_URL", "http://localhost:8000").rstrip("/")
MAILDEV = os.environ.get("MAILDEV_URL", "http://127.0.0.1:1080").rstrip("/")
KINDS_SHOWN = ("tracks", "sponsors", "tickets", "taxes", "discount-codes", "orders", "attendees")
MEDIA_DEADLINE_SECONDS = 10
MAIL_DEADLINE_SECONDS = 15
PNG = {"Content-Type": "image/png"}
LINK = re.compile(r"https?://[^\s<>\"']+")


def step(title):
    print(f"\n== {title}")


def show(label, value):
    print(f"   {label:<34} {value}")


def png(width, height, colour):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


def signed_up(name):
    user = sign_up(Api(BASE), name)
    show(f"{name} signed up", f"user {user.id} <{user.email}>, token expires in "
                              f"{user.expires_in} s")
    return user


def mail_to(email, subject_contains):
    """The first mail to `email` about `subject_contains`, read from the
    mail catcher's REST API once it has arrived (the notifications service
    sends it a moment after the request that asked for it)."""
    deadline = time.monotonic() + MAIL_DEADLINE_SECONDS
    while True:
        try:
            answer = requests.get(f"{MAILDEV}/api/email", timeout=10)
            answer.raise_for_status()
        except requests.RequestException as exc:
            sys.exit(f"\nno mail catcher answers at {MAILDEV} ({exc}): `make run` starts one;"
                     f" MAILDEV_URL says where it is")
        for mail in answer.json():
            if (email in {to["address"].lower() for to in mail["to"]}
                    and subject_contains in mail["subject"]):
                return mail
        if time.monotonic() > deadline:
            sys.exit(f"\nno mail to {email} about {subject_contains!r} arrived in"
                     f" {MAIL_DEADLINE_SECONDS} s (is the notifications service running?)")
        time.sleep(0.2)


def link_in(mail, path):
    """The link to `path` in the mail's text, and its token."""
    for url in LINK.findall(mail["text"]):
        parts = urlsplit(url)
        if parts.path == path and "token" in parse_qs(parts.query):
            return url, parse_qs(parts.query)["token"][0]
    sys.exit(f"\nno link to {path} in the mail {mail['subject']!r}")


def verify(user, name):
    """Follow the verification link mailed to the user at sign-up."""
    mail = mail_to(user.email, "Verify")
    url, token = link_in(mail, "/verify-email")
    show(f"mail to {name}", mail["subject"])
    show("   with the link", url)
    verified = ok(user.api.post("/v1/users/verify-email", {"token": token}))
    show(f"{name} opened it", "its page sends the token: POST /v1/users/verify-email")
    show("", f"email verified: {verified['email_verified']}")


def build_event(ana):
    def created(path, body):
        return ok(ana.post(path, body), 201)

    event = created("/v1/events", {
        "name": "FOSSASIA Summit", "starts_at": "2030-03-14T09:00:00+08:00",
        "ends_at": "2030-03-16T18:00:00+08:00", "timezone": "Asia/Singapore",
        "location_name": "Lifelong Learning Institute"})
    ref = event["identifier"]
    show("event", f"{event['name']} #{event['id']} ({ref}), {event['state']}")
    for name, color in (("Cloud", "#3366ff"), ("Open Hardware", "#ff6633")):
        created(f"/v1/events/{ref}/tracks", {"name": name, "color": color})
    sponsors = [created(f"/v1/events/{ref}/sponsors", {"name": name, "level": level})
                for name, level in (("Red Hat", 1), ("Google", 2))]
    tickets = [created(f"/v1/events/{ref}/tickets", body) for body in (
        {"name": "Community", "type": "free", "quantity": 500},
        {"name": "Professional", "type": "paid", "price": "120.00", "quantity": 200})]
    created(f"/v1/events/{ref}/discount-codes", {
        "code": "EARLYBIRD", "type": "percent", "value": "20",
        "ticket_ids": [ticket["id"] for ticket in tickets]})
    created(f"/v1/events/{ref}/taxes", {"name": "GST", "rate": "9"})
    order = created(f"/v1/events/{ref}/orders", {"status": "completed", "amount": "120.00",
                                                 "buyer_email": "buyer@example.org"})
    for firstname in ("Mario", "Hong"):
        created(f"/v1/events/{ref}/attendees", {"firstname": firstname,
                                                "ticket_id": tickets[1]["id"],
                                                "order_id": order["id"]})
    show("children", "2 tracks, 2 sponsors, 2 tickets, 1 discount code (both tickets), "
                     "1 tax, 1 order, 2 attendees")
    image = ok(ana.put(f"/v1/events/{ref}/images/original", data=png(2600, 1000, "teal"),
                       headers=PNG))
    show("event image", f"{len(image['media'])} files (original + renditions)")
    ok(ana.put(f"/v1/sponsors/{sponsors[0]['id']}/logo", data=png(400, 200, "crimson"),
               headers=PNG))
    show("sponsor logo", f"uploaded for {sponsors[0]['name']}")
    published = ok(ana.patch(f"/v1/events/{ref}", {"state": "published"}))
    show("published", f"state {published['state']}, privacy {published['privacy']}")
    return published, tickets


def invite(ana, ben, ref):
    sent = ok(ana.post(f"/v1/events/{ref}/role-invites", {"email": ben.email,
                                                          "role": "coorganizer"}), 201)
    show("Ana invited Ben", f"invite {sent['id']}: {sent['role']}, {sent['status']}")
    mail = mail_to(ben.email, "invites you to the team of")
    url, token = link_in(mail, "/role-invites/accept")
    show("mail to Ben", mail["subject"])
    show("   with the link", url)
    accepted = ok(ben.api.post("/v1/role-invites/accept", {"token": token}))
    show("Ben opened it, signed in", "its page sends the token: POST /v1/role-invites/accept")
    show("", f"invite {accepted['id']}: status {accepted['status']}, "
             f"role granted: {accepted.get('role_granted')}")


def copy(ben, ref):
    key = str(uuid.uuid4())
    copied = ok(ben.post(f"/v1/events/{ref}/copy", {"name": "FOSSASIA Summit 2031"},
                         headers={"Idempotency-Key": key}), 201)
    again = ok(ben.post(f"/v1/events/{ref}/copy", {"name": "FOSSASIA Summit 2031"},
                        headers={"Idempotency-Key": key}), 201)
    show("Ben copied the event", f"#{copied['id']} ({copied['identifier']}), copied from "
                                 f"{copied['copied_from']['identifier']}")
    show("same Idempotency-Key again", f"answers the same copy: {again['id'] == copied['id']}")
    return copied


def wait_for_media(client, ref):
    """The copy's media are duplicated asynchronously (event.copied)."""
    deadline = time.monotonic() + MEDIA_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        event = ok(client.get(f"/v1/events/{ref}"))
        if event["original_image_url"]:
            return event
        time.sleep(0.1)
    sys.exit("the copy's media did not arrive in time")


def compare(ben, source, source_tickets, copied):
    ref = copied["identifier"]
    event = wait_for_media(ben, ref)
    show("identifier", f"{source['identifier']} -> {event['identifier']}")
    show("state", f"{source['state']} -> {event['state']}")
    for kind in KINDS_SHOWN:
        before = ok(ben.get(f"/v1/events/{source['identifier']}/{kind}"))["total"]
        after = ok(ben.get(f"/v1/events/{ref}/{kind}"))["total"]
        show(kind, f"{before} -> {after}")
    code = ok(ben.get(f"/v1/events/{ref}/discount-codes"))["items"][0]
    copy_tickets = [ticket["id"] for ticket in ok(ben.get(f"/v1/events/{ref}/tickets"))["items"]]
    show("discount code's tickets", f"{[t['id'] for t in source_tickets]} -> "
                                    f"{code['ticket_ids']} (the copy's: "
                                    f"{sorted(code['ticket_ids']) == sorted(copy_tickets)})")
    team = ok(ben.get(f"/v1/events/{ref}/roles"))["items"]
    show("team", ", ".join(f"{member['email']} ({member['role']})" for member in team))
    for field in ("original_image_url", "thumbnail_image_url"):
        same_bytes = (expect(ben.get(urlpath(source[field]))).content
                      == expect(ben.get(urlpath(event[field]))).content)
        show(field, f"{'differs' if source[field] != event[field] else 'SAME'}; "
                    f"same bytes: {same_bytes}")
        show("", f"{source[field]}\n{'':<38}{event[field]}")


def urlpath(url):
    return url[url.index("/media/"):]


def main():
    step(f"1. two users sign up and sign in ({BASE})")
    ana = signed_up("Ana")
    ben = signed_up("Ben")
    step(f"2. Ben verifies his email by the link mailed to him (mails: {MAILDEV})")
    verify(ben, "Ben")
    step("3. Ana creates an event, its children, an order, and uploads images")
    source, tickets = build_event(ana.api)
    step("4. Ana invites Ben as coorganizer; Ben accepts by the link in the invitation mail")
    invite(ana.api, ben, source["identifier"])
    step("5. Ben copies the event")
    copied = copy(ben.api, source["identifier"])
    step("6. the copy, beside its source")
    compare(ben.api, source, tickets, copied)
    print("\nDone.")


if __name__ == "__main__":
    try:
        main()
    except UnexpectedAnswer as answer:
        sys.exit(f"\n{answer}")
