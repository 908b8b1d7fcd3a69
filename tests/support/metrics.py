"""Reading a service's Prometheus metrics, as Prometheus would."""
import time

import requests
from prometheus_client.parser import text_string_to_metric_families


def scrape(url):
    """{(sample name, frozenset of its labels): value} of the `/metrics` at `url`."""
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples}


def value(samples, name, **labels):
    """The sample `name` with exactly `labels`, or 0 if there is none (yet)."""
    return samples.get((name, frozenset(labels.items())), 0)


def await_sample(url, name, expected, timeout=30, **labels):
    """Poll `url` until `name{labels}` satisfies `expected(value)`; its value."""
    deadline = time.monotonic() + timeout
    while True:
        found = value(scrape(url), name, **labels)
        if expected(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}{labels} is {found} after {timeout} s")
        time.sleep(0.1)
