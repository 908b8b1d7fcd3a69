from shared.config import load_config


def test_environment_overrides_and_defaults_keep_their_type(tmp_path, monkeypatch):
    path = tmp_path / "config.yml"
    path.write_text(
        "DATABASE_URL: ${TEST_DB_URL:postgresql+psycopg2://root@127.0.0.1/x}\n"
        "max_workers: ${TEST_WORKERS:10}\n"
        "HANDLER_RETRY_DELAYS: ${TEST_DELAYS:[1, 5, 25]}\n"
    )
    monkeypatch.setenv("TEST_WORKERS", "3")
    config = load_config(path)
    assert config == {
        "DATABASE_URL": "postgresql+psycopg2://root@127.0.0.1/x",
        "max_workers": 3,
        "HANDLER_RETRY_DELAYS": [1, 5, 25],
    }
