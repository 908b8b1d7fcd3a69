"""The media service's blob store is chosen by its settings: the local
disk, or a bucket on any S3-compatible store, whose secret production never
takes from the repository."""
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from services.media.s3 import S3BlobStore
from services.media.settings import DEVELOPMENT_S3_SECRET, MediaSettings
from services.media.storage import LocalBlobStore, blob_key, store_from
from shared.errors import Outage
from shared.settings import InvalidSettings, validated

S3 = {"MEDIA_BACKEND": "s3", "MEDIA_S3_ENDPOINT": "http://127.0.0.1:9000",
      "MEDIA_S3_BUCKET": "pictures", "MEDIA_S3_REGION": "eu-west-1"}
OWN_SECRET = {"MEDIA_S3_ACCESS_KEY_ID": "media", "MEDIA_S3_SECRET_ACCESS_KEY": "an-own-secret"}


def settings(**config):
    return validated(MediaSettings, config)


def test_production_refuses_the_development_s3_secret():
    with pytest.raises(InvalidSettings, match="MEDIA_S3_SECRET_ACCESS_KEY is the development"):
        settings(**S3)


def test_the_development_s3_secret_is_admitted_in_development_and_unused_on_local_disk():
    assert settings(**S3, ENVIRONMENT="development").MEDIA_S3_SECRET_ACCESS_KEY == (
        DEVELOPMENT_S3_SECRET)
    assert settings().MEDIA_BACKEND == "local"  # production, the default secret unused


def test_an_unknown_backend_is_refused():
    with pytest.raises(InvalidSettings, match="MEDIA_BACKEND"):
        settings(MEDIA_BACKEND="ftp")


def test_the_local_backend_keeps_blobs_under_media_root(tmp_path):
    store = store_from(settings(MEDIA_ROOT=str(tmp_path)))

    assert isinstance(store, LocalBlobStore) and store.root == tmp_path


@pytest.mark.parametrize(("path_style", "addressing"), [(True, "path"), (False, "virtual")])
def test_the_s3_backend_reaches_the_bucket_its_settings_name(path_style, addressing):
    store = store_from(settings(**S3, **OWN_SECRET, MEDIA_S3_PATH_STYLE=path_style))

    assert isinstance(store, S3BlobStore) and store.bucket == "pictures"
    assert store.client.meta.endpoint_url == "http://127.0.0.1:9000"
    assert store.client.meta.region_name == "eu-west-1"
    assert store.client.meta.config.s3["addressing_style"] == addressing
    assert store.client._request_signer._credentials.secret_key == "an-own-secret"


def test_without_credentials_boto3_finds_its_own(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-the-role")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "the-roles-secret")
    store = store_from(settings(**S3, MEDIA_S3_ACCESS_KEY_ID="", MEDIA_S3_SECRET_ACCESS_KEY=""))

    assert store.client._request_signer._credentials.access_key == "from-the-role"


# the S3 store's answers to what S3 says, on botocore's own stub of the API


@pytest.fixture
def stubbed():
    store = store_from(settings(**S3, **OWN_SECRET))
    with Stubber(store.client) as stub:
        yield store, stub
        stub.assert_no_pending_responses()


def put_fails(stub, code, status):
    stub.add_client_error("put_object", service_error_code=code, http_status_code=status)


def test_a_conflicting_concurrent_write_of_the_same_blob_is_asked_again(stubbed):
    store, stub = stubbed
    put_fails(stub, "ConditionalRequestConflict", 409)
    stub.add_response("put_object", {"ETag": '"etag"'})

    assert store.put(b"an image") == blob_key(b"an image")


def test_a_write_that_keeps_conflicting_is_an_outage(stubbed):
    store, stub = stubbed
    for _ in range(3):
        put_fails(stub, "ConditionalRequestConflict", 409)

    with pytest.raises(Outage):
        store.put(b"an image")


def test_a_store_that_answers_5xx_is_an_outage_and_a_refusal_is_not(stubbed):
    store, stub = stubbed
    put_fails(stub, "SlowDown", 503)
    put_fails(stub, "AccessDenied", 403)

    with pytest.raises(Outage):
        store.put(b"an image")
    with pytest.raises(ClientError, match="AccessDenied"):
        store.put(b"an image")
