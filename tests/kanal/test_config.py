"""kanal.toml: typed decoding, environment overrides, secret files, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from kanal.config import ConfigError, load
from kanal.settings_types import Duration, Secret


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kanal.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_file() -> None:
    config = load(env={})
    assert config.nats.url == ""
    assert config.nats.duplicate_window == Duration(hours=24)


def test_file_values_and_durations(tmp_path: Path) -> None:
    path = _write(tmp_path, '[nats]\nurl = "nats://a:4222"\nduplicate_window = "2h30m"\nreplicas = 3\n')
    config = load(path, env={})
    assert config.nats.url == "nats://a:4222"
    assert config.nats.duplicate_window.total_seconds() == 9000
    assert config.nats.replicas == 3


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = _write(tmp_path, '[nats]\nurl = "nats://a:4222"\n[connectors.twilio-sms]\nchannel = "twilio"\n')
    env = {"KANAL_NATS__URL": "nats://b:4222", "KANAL_NATS__REPLICAS": "3",
           "KANAL_CONNECTORS__TWILIO_SMS__AUTH_TOKEN": "tok-123456"}
    config = load(path, env=env)
    assert config.nats.url == "nats://b:4222"
    assert config.nats.replicas == 3
    assert config.connectors["twilio-sms"]["auth_token"] == "tok-123456"


def test_secret_read_from_file_and_masked_in_repr(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret-value\n")
    path = _write(tmp_path, '[nats]\nurl = "nats://a:4222"\npassword_file = "pw"\n')
    config = load(path, env={})
    assert isinstance(config.nats.password, Secret)
    assert config.nats.password.reveal() == "s3cret-value"
    assert "s3cret" not in repr(config)


@pytest.mark.parametrize(("text", "says"), [
    pytest.param('[nats]\nurll = "nats://a:4222"\n', r"'nats.urll': unknown key", id="unknown_key"),
    pytest.param('[nats]\nreplicas = "three"\n', r"'nats.replicas'", id="wrong_type"),
    pytest.param('[nats]\nduplicate_window = "a day"\n', r"'nats.duplicate_window'.*24h", id="bad_duration"),
    pytest.param('[nats]\npassword_file = "nope"\n', r"'nats.password_file': cannot read secret file",
                 id="missing_secret_file"),
    pytest.param('[nats\nurl = "nats://a:4222"\n', r"config file .*kanal\.toml is not valid TOML", id="not_toml"),
])
def test_a_bad_config_is_refused_naming_the_key_and_the_fix(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        load(_write(tmp_path, text), env={})


def test_an_unreadable_config_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "kanal.toml").mkdir()
    with pytest.raises(ConfigError, match=r"cannot read config file .*kanal\.toml"):
        load(tmp_path / "kanal.toml", env={})


def test_missing_config_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"copy kanal\.example\.toml"):
        load(tmp_path / "absent.toml", env={})


def test_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "kanal.example.toml"
    config = load(example, env={})
    assert config.nats.url == ""



def test_enabled_from_the_environment_is_a_boolean_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kanal.toml"
    path.write_text('[admin]\nenabled = true\n[connectors.sms]\nchannel = "twilio"\n')
    config = load(path, env={"KANAL_ADMIN__ENABLED": "false", "KANAL_ROUTER__ENABLED": "FALSE",
                             "KANAL_CONNECTORS__SMS__ENABLED": "0", "KANAL_OUTBOUND__ENABLED": "1"})
    assert config.admin["enabled"] is False and config.router["enabled"] is False
    assert config.connectors["sms"]["enabled"] is False and config.outbound["enabled"] is True
    with pytest.raises(ConfigError, match=r"connectors.sms.enabled = 'maybe': write true or false"):
        load(path, env={"KANAL_CONNECTORS__SMS__ENABLED": "maybe"})


def test_lists_and_tables_from_the_environment_are_json_and_reach_the_owner_typed(tmp_path: Path) -> None:
    from connectors.runtime import resolve

    example = Path(__file__).resolve().parents[2] / "kanal.example.toml"
    env = {"KANAL_CONNECTORS__NEWS_MEDIA__FEEDS": '["http://127.0.0.1:9/x.xml", {"url": "http://h/y", "name": "Y"}]',
           "KANAL_CONNECTORS__NEWS_MEDIA__KEYWORDS": '["banjir"]',
           "KANAL_ADMIN__USERS": '{"ops": {"password_hash": "scrypt$1", "queues": ["kelurahan.*"]}}',
           "KANAL_NATS__LEASE_TTL": "20s", "KANAL_ROUTER__METRICS_PORT": "9000"}
    config = load(example, env=env)
    _spec, _common, settings = resolve(config, "news-media")
    assert [feed.url for feed in settings.sources()] == ["http://127.0.0.1:9/x.xml", "http://h/y"]
    assert settings.keywords == ("banjir",)
    assert set(config.admin["users"]) == {"ops"}  # a table replaces the file's table, as a TOML override would
    assert config.nats.lease_ttl.total_seconds() == 20


def test_an_environment_value_that_does_not_parse_names_the_key_and_the_variable(tmp_path: Path) -> None:
    path = _write(tmp_path, '[connectors.news-media]\nchannel = "news"\nfeeds = []\n')
    with pytest.raises(ConfigError, match=r"config key 'connectors.news-media.feeds' \(environment variable "
                       r"KANAL_CONNECTORS__NEWS_MEDIA__FEEDS\): not valid JSON"):
        load(path, env={"KANAL_CONNECTORS__NEWS_MEDIA__FEEDS": '["http://a/x.xml",'})
    with pytest.raises(ConfigError, match=r"config key 'nats.replicas': Expected `int`"):
        load(path, env={"KANAL_NATS__REPLICAS": "three"})
