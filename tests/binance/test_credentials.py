"""Credentials come from the environment or systemd credentials and never show themselves."""

from __future__ import annotations

import pickle
import traceback
from pathlib import Path

import pytest

from mmctl.exchange.binance.credentials import MissingCredentials, Secret, env_name, load_credentials


def test_default_variables_are_named_after_the_account() -> None:
    """MMCTL_<NAME>_API_KEY with the name upper-cased and '-' turned into '_'."""
    assert env_name("main-2", "API_KEY") == "MMCTL_MAIN_2_API_KEY"


def test_environment_variables_are_read() -> None:
    """Key and secret come from the default variables, stripped."""
    creds = load_credentials("main", env={"MMCTL_MAIN_API_KEY": " key \n", "MMCTL_MAIN_API_SECRET": "sec"})
    assert (creds.api_key.reveal(), creds.api_secret.reveal()) == ("key", "sec")
    assert creds.key_source == "$MMCTL_MAIN_API_KEY"


def test_configured_variable_names_win() -> None:
    """api_key_env / api_secret_env name other variables."""
    env = {"K": "key", "S": "sec", "MMCTL_MAIN_API_KEY": "other"}
    creds = load_credentials("main", api_key_env="K", api_secret_env="S", env=env)
    assert (creds.api_key.reveal(), creds.api_secret.reveal()) == ("key", "sec")


def test_systemd_credentials_are_read_from_the_directory(tmp_path: Path) -> None:
    """Files <name>.api_key / <name>.api_secret in $CREDENTIALS_DIRECTORY are used when no variable is set."""
    (tmp_path / "main.api_key").write_text("file-key\n")
    (tmp_path / "main.api_secret").write_text("file-secret\n")
    creds = load_credentials("main", env={"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert (creds.api_key.reveal(), creds.api_secret.reveal()) == ("file-key", "file-secret")
    assert creds.secret_source == str(tmp_path / "main.api_secret")


def test_a_missing_secret_names_the_variable_and_the_file(tmp_path: Path) -> None:
    """The error says which variable to set or which credential file to provide."""
    with pytest.raises(MissingCredentials) as caught:
        load_credentials("main", env={"MMCTL_MAIN_API_KEY": "key", "CREDENTIALS_DIRECTORY": str(tmp_path)})
    message = str(caught.value)
    assert "MMCTL_MAIN_API_SECRET" in message
    assert "main.api_secret" in message
    assert "key" not in message.replace("API key", "").replace("api_", "")


def test_secrets_never_show_themselves() -> None:
    """repr, str, format, an f-string and a traceback with locals all mask the value; pickling refuses."""
    secret = Secret("hunter2-very-secret")
    assert "hunter2" not in repr(secret) + str(secret) + f"{secret}" + format(secret, ">30")
    creds = load_credentials("a", env={"MMCTL_A_API_KEY": "k", "MMCTL_A_API_SECRET": "hunter2-very-secret"})
    assert "hunter2" not in repr(creds)

    def fails(value: Secret) -> None:
        raise RuntimeError("boom")

    try:
        fails(creds.api_secret)
    except RuntimeError as e:
        rendered = "".join(traceback.TracebackException.from_exception(e, capture_locals=True).format())
    assert "hunter2" not in rendered
    with pytest.raises(TypeError):
        pickle.dumps(secret)
