"""`make demo`: the whole story against a running system, over HTTP only.

Ana signs up, creates an event with its children, images and an order;
she invites Ben as coorganizer, he accepts and copies the event; the
script shows what the copy holds, and that its images are its own URLs
serving the same bytes. Run `make run` first (GATEWAY_URL, default
http://localhost:8000, says where).
"""
import io
import os
import sys
import time
import uuid

import requests
from PIL import Image

BASE = os.environ.get("GATEWAY_URL", "http://localhost:8000").rstrip("/")
KINDS_SHOWN = ("tracks", "sponsors", "tickets", "taxes", "discount-codes", "orders", "attendees")
MEDIA_DEADLINE_SECONDS = 10


class Client:
    """A user's session: `client.post("/v1/events", {...})` → the JSON answer."""

    def __init__(self, token=None):
        self.http = requests.Session()
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def call(self, method, path, expect, **kwargs):
        response = self.http.request(method, BASE + path, timeout=30, **kwargs)
        if response.status_code != expect:
            sys.exit(f"\n{method} {path} answered {response.status_code}: {response.text}")
        return response.json() if "json" in response.headers.get("Content-Type", "") else response

    def get(self, path, expect=200, **kwargs):
        return self.call("GET", path, expect, **kwargs)

    def post(self, path, body=None, expect=201, **kwargs):
        return self.call("POST", path, expect, json=body, **kwargs)

    def patch(self, path, body, expect=200):
        return self.call("PATCH", path, expect, json=body)

    def put_image(self, path, content):
        return self.call("PUT", path, 200, data=content, headers={"Content-Type": "image/png"})


def step(title):
    print(f"\n== {title}")


def show(label, value):
    print(f"   {label:<34} {value}")


def png(width, height, colour):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


def sign_up(name, run):
    email = f"{name.lower()}.{run}@example.org"
    anonymous = Client()
    user = anonymous.post("/v1/users", {"email": email, "password": "correct horse battery",
                                        "name": name})
    token = anonymous.post("/v1/auth/token", {"email": email, "password": "correct horse battery"},
                           expect=200)
    show(f"{name} signed up", f"user {user['id']} <{email}>, token expires in "
                              f"{token['expires_in']} s")
    return user, Client(token["access_token"])


def build_event(ana):
    event = ana.post("/v1/events", {
        "name": "FOSSASIA Summit", "starts_at": "2030-03-14T09:00:00+08:00",
        "ends_at": "2030-03-16T18:00:00+08:00", "timezone": "Asia/Singapore",
        "location_name": "Lifelong Learning Institute"})
    ref = event["identifier"]
    show("event", f"{event['name']} #{event['id']} ({ref}), {event['state']}")
    for name, color in (("Cloud", "#3366ff"), ("Open Hardware", "#ff6633")):
        ana.post(f"/v1/events/{ref}/tracks", {"name": name, "color": color})
    sponsors = [ana.post(f"/v1/events/{ref}/sponsors", {"name": name, "level": level})
                for name, level in (("Red Hat", 1), ("Google", 2))]
    tickets = [ana.post(f"/v1/events/{ref}/tickets", body) for body in (
        {"name": "Community", "type": "free", "quantity": 500},
        {"name": "Professional", "type": "paid", "price": "120.00", "quantity": 200})]
    ana.post(f"/v1/events/{ref}/discount-codes", {
        "code": "EARLYBIRD", "type": "percent", "value": "20",
        "ticket_ids": [ticket["id"] for ticket in tickets]})
    ana.post(f"/v1/events/{ref}/taxes", {"name": "GST", "rate": "9"})
    order = ana.post(f"/v1/events/{ref}/orders", {"status": "completed", "amount": "120.00",
                                                  "buyer_email": "buyer@example.org"})
    for firstname in ("Mario", "Hong"):
        ana.post(f"/v1/events/{ref}/attendees", {"firstname": firstname,
                                                 "ticket_id": tickets[1]["id"],
                                                 "order_id": order["id"]})
    show("children", "2 tracks, 2 sponsors, 2 tickets, 1 discount code (both tickets), "
                     "1 tax, 1 order, 2 attendees")
    image = ana.put_image(f"/v1/events/{ref}/images/original", png(2600, 1000, "teal"))
    show("event image", f"{len(image['media'])} files (original + renditions)")
    ana.put_image(f"/v1/sponsors/{sponsors[0]['id']}/logo", png(400, 200, "crimson"))
    show("sponsor logo", f"uploaded for {sponsors[0]['name']}")
    published = ana.patch(f"/v1/events/{ref}", {"state": "published"})
    show("published", f"state {published['state']}, privacy {published['privacy']}")
    return published, tickets


def invite(ana, ben, ben_user, ref):
    sent = ana.post(f"/v1/events/{ref}/role-invites", {"email": ben_user["email"],
                                                       "role": "coorganizer"})
    show("Ana invited Ben", f"invite {sent['id']}: {sent['role']}, {sent['status']}")
    accepted = ben.patch(f"/v1/role-invites/{sent['id']}", {"status": "accepted"})
    show("Ben accepted", f"status {accepted['status']}, role granted: "
                         f"{accepted.get('role_granted')}")


def copy(ben, ref):
    key = str(uuid.uuid4())
    copied = ben.post(f"/v1/events/{ref}/copy", {"name": "FOSSASIA Summit 2031"},
                      headers={"Idempotency-Key": key})
    again = ben.post(f"/v1/events/{ref}/copy", {"name": "FOSSASIA Summit 2031"},
                     headers={"Idempotency-Key": key})
    show("Ben copied the event", f"#{copied['id']} ({copied['identifier']}), copied from "
                                 f"{copied['copied_from']['identifier']}")
    show("same Idempotency-Key again", f"answers the same copy: {again['id'] == copied['id']}")
    return copied


def wait_for_media(client, ref):
    """The copy's media are duplicated asynchronously (event.copied)."""
    deadline = time.monotonic() + MEDIA_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        event = client.get(f"/v1/events/{ref}")
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
        before = ben.get(f"/v1/events/{source['identifier']}/{kind}")["total"]
        after = ben.get(f"/v1/events/{ref}/{kind}")["total"]
        show(kind, f"{before} -> {after}")
    code = ben.get(f"/v1/events/{ref}/discount-codes")["items"][0]
    copy_tickets = [ticket["id"] for ticket in ben.get(f"/v1/events/{ref}/tickets")["items"]]
    show("discount code's tickets", f"{[t['id'] for t in source_tickets]} -> "
                                    f"{code['ticket_ids']} (the copy's: "
                                    f"{sorted(code['ticket_ids']) == sorted(copy_tickets)})")
    team = ben.get(f"/v1/events/{ref}/roles")["items"]
    show("team", ", ".join(f"{member['email']} ({member['role']})" for member in team))
    for field in ("original_image_url", "thumbnail_image_url"):
        same_bytes = (ben.get(urlpath(source[field])).content
                      == ben.get(urlpath(event[field])).content)
        show(field, f"{'differs' if source[field] != event[field] else 'SAME'}; "
                    f"same bytes: {same_bytes}")
        show("", f"{source[field]}\n{'':<38}{event[field]}")


def urlpath(url):
    return url[url.index("/media/"):]


def main():
    run = uuid.uuid4().hex[:6]
    step(f"1. two users sign up and sign in ({BASE})")
    ana_user, ana = sign_up("Ana", run)
    ben_user, ben = sign_up("Ben", run)
    step("2. Ana creates an event, its children, an order, and uploads images")
    source, tickets = build_event(ana)
    step("3. Ana invites Ben as coorganizer; Ben accepts")
    invite(ana, ben, ben_user, source["identifier"])
    step("4. Ben copies the event")
    copied = copy(ben, source["identifier"])
    step("5. the copy, beside its source")
    compare(ben, source, tickets, copied)
    print("\nDone.")


if __name__ == "__main__":
    main()
