"""A local S3 API for the S3 backend's tests: moto's server mode
(`moto_server`, from PyPI), on a free port of this machine, started once
and emptied between tests through its reset endpoint."""
import subprocess
import sys
from pathlib import Path

import requests

from services.media.s3 import s3_client
from services.media.settings import (
    DEVELOPMENT_S3_ACCESS_KEY_ID,
    DEVELOPMENT_S3_SECRET,
    MediaSettings,
)
from tests.support.system import free_port
from tests.support.tap import wait_until

BUCKET = "media-test"


class MotoServer:
    """`with MotoServer() as s3:` a running moto server at `s3.url`."""

    def __enter__(self):
        self.url = f"http://127.0.0.1:{free_port()}"
        port = self.url.rsplit(":", 1)[1]
        command = [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1",
                   "-p", port]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        try:
            wait_until(self._answers, timeout=30, interval=0.1)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _answers(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"moto_server exited with status {self.process.returncode}")
        try:
            return requests.get(f"{self.url}/moto-api/", timeout=1).ok
        except requests.ConnectionError:
            return False

    def settings(self, bucket=BUCKET):
        """The media service's settings for its S3 backend on this server."""
        return {"MEDIA_BACKEND": "s3", "MEDIA_S3_ENDPOINT": self.url, "MEDIA_S3_BUCKET": bucket,
                "MEDIA_S3_REGION": "us-east-1", "MEDIA_S3_PATH_STYLE": True,
                "MEDIA_S3_ACCESS_KEY_ID": DEVELOPMENT_S3_ACCESS_KEY_ID,
                "MEDIA_S3_SECRET_ACCESS_KEY": DEVELOPMENT_S3_SECRET}

    def client(self):
        return s3_client(MediaSettings.model_validate(
            {**self.settings(), "ENVIRONMENT": "test"}))

    def reset(self, bucket=BUCKET):
        """Forget every bucket and object; then an empty `bucket`."""
        requests.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()
        self.client().create_bucket(Bucket=bucket)
