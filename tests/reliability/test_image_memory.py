"""Image memory: 10 uploads of the largest image the media service accepts
and 10 decompression bombs, all at once, against the default media
settings (and the production RPC timeout).

The largest image is `MEDIA_MAX_PIXELS` pixels, an RGBA PNG (4 bytes a
pixel decoded, the most of any accepted format) of nearly
`MEDIA_MAX_BYTES`, as an event's `original` (so with its renditions). The
media process decodes at most `MEDIA_DECODES_AT_ONCE` at a time, lets
`MEDIA_DECODES_WAITING` more wait and refuses the rest at once (503
`images_busy`, sent again after its `Retry-After`, as a client of a busy
system does); every upload is stored in the end. Every bomb is refused
413 `image_too_large` from its header, never `images_busy`: it takes no
place. The peak resident memory of
the media process (VmHWM of its `nameko run`, over its whole life) stays
under 1 GiB, and is written down.
"""
import io
import random
import time
from collections import Counter

import eventlet
import PIL.Image
import pytest

from services.media.settings import MediaSettings
from shared.settings import ServiceSettings
from tests.reliability import flows
from tests.support.media import png_claiming

pytestmark = pytest.mark.timeout(600)  # a busy machine slows heavy work most
SYSTEM_ENV = {"RPC_TIMEOUT": str(ServiceSettings.model_fields["RPC_TIMEOUT"].default)}
MAX_PIXELS, MAX_BYTES = (MediaSettings.model_fields[name].default
                         for name in ("MEDIA_MAX_PIXELS", "MEDIA_MAX_BYTES"))
UPLOADS = 10
BOMBS = 10
PEAK_BOUND_MIB = 1024


def test_the_largest_images_and_bombs_at_once_stay_under_a_gigabyte(system, report):
    owner = flows.sign_up(system, "owner", verified=False)
    events = [flows.create_event(owner, f"Large {n}") for n in range(UPLOADS)]
    largest, bombs = largest_image(), [*[png_claiming(100_000, 100_000)] * (BOMBS // 2),
                                       *[one_colour((10_000, 10_000))] * (BOMBS - BOMBS // 2)]
    rss_before = memory(system.pid("media"), "VmRSS")

    def upload(event, data):
        api, started = owner.session(), time.monotonic()
        response, refused = flows.send_patiently(lambda: api.put(
            f"/v1/events/{event['id']}/images/original", data=data,
            headers={"Content-Type": "image/png"}))
        return response, refused, time.monotonic() - started

    pool = eventlet.GreenPool(UPLOADS + BOMBS)
    uploads = [pool.spawn(upload, event, largest) for event in events]
    refusals = [pool.spawn(upload, events[n % UPLOADS], bomb) for n, bomb in enumerate(bombs)]
    stored = [thread.wait() for thread in uploads]
    refused = [thread.wait() for thread in refusals]

    peak_mib = memory(system.pid("media"), "VmHWM")
    stored_ok = sum(response.status_code == 200 for response, *_ in stored)
    bombs_413 = sum(response.status_code == 413 and response.json()["code"] == "image_too_large"
                    and "images_busy" not in busy for response, busy, _ in refused)
    busy = sum((busy for _, busy, _ in stored + refused), start=Counter())
    passed = stored_ok == UPLOADS and bombs_413 == BOMBS and peak_mib < PEAK_BOUND_MIB
    report(scenario="image memory", injected=f"{UPLOADS} uploads of the largest image "
           f"({MAX_PIXELS // 10**6} MP RGBA PNG, {len(largest) / 2**20:.1f} MiB) and {BOMBS} "
           f"decompression bombs at once", requested=UPLOADS + BOMBS,
           completed=stored_ok + bombs_413, lost=UPLOADS + BOMBS - stored_ok - bombs_413,
           duplicated=0, passed=passed, media_peak_rss_mib=peak_mib,
           media_rss_before_mib=rss_before, refused_503=dict(busy),
           slowest_upload_seconds=round(max(seconds for *_, seconds in stored), 1),
           slowest_bomb_seconds=round(max(seconds for *_, seconds in refused), 1))

    assert stored_ok == UPLOADS, [(response.status_code, response.text[:300])
                                  for response, *_ in stored]
    assert bombs_413 == BOMBS, [(response.status_code, response.json().get("code"), dict(busy))
                                for response, busy, _ in refused]
    assert peak_mib < PEAK_BOUND_MIB


def largest_image():
    """A PNG of MAX_PIXELS RGBA pixels (6000x4000 at the default), nine
    tenths of MAX_BYTES: noise in the top rows, one colour below."""
    width = 6000
    height = MAX_PIXELS // width
    noisy_rows = int(MAX_BYTES * 0.9) // (4 * width)
    image = PIL.Image.new("RGBA", (width, height), (0, 128, 255, 200))
    noise = random.Random(width).randbytes(4 * width * noisy_rows)
    image.paste(PIL.Image.frombytes("RGBA", (width, noisy_rows), noise), (0, 0))
    return encoded(image)


def one_colour(size):
    """A real image, one bit a pixel: a few KiB that decode to size[0] x
    size[1] pixels."""
    return encoded(PIL.Image.new("1", size))


def encoded(image):
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def memory(pid, field):
    """A memory figure of /proc/{pid}/status, in MiB: VmRSS (now), VmHWM
    (the peak)."""
    with open(f"/proc/{pid}/status") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith(f"{field}:"))
    return round(kib / 1024)
