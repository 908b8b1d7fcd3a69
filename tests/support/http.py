"""HTTP clients for end-to-end tests: `Api(base_url)` anonymous, and
`api.as_user(token)` signed in. Calls answer the `requests` response."""
import requests


class Api:
    def __init__(self, base_url, token=None):
        self.base_url = base_url
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def as_user(self, token):
        return Api(self.base_url, token)

    def request(self, method, path, **kwargs):
        return self.session.request(method, self.base_url + path, timeout=30, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, json=body, **kwargs)

    def patch(self, path, body=None, **kwargs):
        return self.request("PATCH", path, json=body, **kwargs)

    def put(self, path, **kwargs):
        return self.request("PUT", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


def ok(response, status=200):
    """The JSON answer, once the status is as expected (else the body shows)."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json() if response.content else None
