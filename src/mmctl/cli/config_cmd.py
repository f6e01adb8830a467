"""`mmctl config init|check|show`: write a starter config, validate one, print the effective one."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mmctl.cli.context import JsonFlag, globals_of
from mmctl.cli.output import fail
from mmctl.errors import ConfigError, MmctlError
from mmctl.paths import resolve_socket, resolve_state_dir

if TYPE_CHECKING:
    from mmctl.config.schema import Settings

# The config modules load inside the commands: every other command's start-up stays lean.

app = typer.Typer(
    help="Write, validate and show the configuration.\n\n\b\nExample:\n  mmctl config check",
    no_args_is_help=True,
)

SECRET_WORDS = ("secret", "passw", "token", "key", "credential", "private")
MASK = "********"


def default_init_path(config: str | None = None) -> Path:
    """Where `config init` writes with no PATH: `--config`/`$MMCTL_CONFIG` when given, else
    `/etc/mmctl/config.toml` for root, else the first search path (`$XDG_CONFIG_HOME/mmctl/config.toml`)."""
    from mmctl.config.load import candidate_paths

    if config:
        return Path(config)
    if os.geteuid() == 0 and not os.environ.get("MMCTL_CONFIG"):
        return Path("/etc/mmctl/config.toml")
    paths = candidate_paths()
    return paths[0]


@app.command("init")
def init(
    ctx: typer.Context,
    path: Annotated[
        Path | None,
        typer.Argument(
            help="Where to write (default: --config or $MMCTL_CONFIG, else /etc/mmctl/config.toml for root, "
            "else ~/.config/mmctl/config.toml); the path written is printed."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    json_flag: JsonFlag = False,
) -> None:
    """Write the documented example config (every key with its default and what it does, one paper
    account), shipped inside the package: it works from a wheel.

    \b
    Examples:
      mmctl config init
      mmctl config init /etc/mmctl/config.toml
    """
    from mmctl.config.example import example_text

    g = globals_of(ctx)
    out = g.output(json_flag)
    target = (path or default_init_path(g.config)).expanduser().absolute()
    if target.exists() and not force:
        fail(ConfigError(f"{target} already exists; use --force to overwrite it"), out)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(example_text(), encoding="utf-8")
    except OSError as e:
        fail(ConfigError(f"cannot write {target}: {e.strerror}"), out)
    used = _in_use(target)
    if out.json:
        out.document({"path": str(target), "in_use": used})
    elif used:
        out.write(f"wrote {target}: mmctl reads its config from there (check it: mmctl config show)")
    else:
        out.write(
            f"wrote {target}: mmctl does not look there by itself; use it with --config {target} "
            f"or MMCTL_CONFIG={target}"
        )


def _in_use(target: Path) -> bool:
    """Whether mmctl, given no --config, would read `target`."""
    from mmctl.config.load import find_config

    try:
        found = find_config()
    except MmctlError:
        return False
    return found is not None and found.absolute() == target


@app.command("check")
def check(
    ctx: typer.Context,
    path: Annotated[Path | None, typer.Argument(help="The file to check (default: the one in use).")] = None,
    json_flag: JsonFlag = False,
) -> None:
    """Validate a config file as the daemon does at start: exit 0 when valid, 1 naming the file and key of
    the first error (unknown keys, bad or out-of-range values, symbols the paper venue lacks).

    \b
    Example:
      mmctl config check /etc/mmctl/config.toml
    """
    from mmctl.config.load import candidate_paths, find_config, load_file, require_config_file
    from mmctl.config.schema import Settings

    g = globals_of(ctx)
    out = g.output(json_flag)
    try:
        found = (
            find_config(g.config) if path is None else require_config_file(path, "named on the command line")
        )
        settings = load_file(found) if found is not None else Settings()
    except MmctlError as e:
        fail(e, out)
    source = str(found) if found else None
    if out.json:
        out.document({"valid": True, "path": source, "accounts": sorted(settings.accounts)})
    elif source:
        out.write(
            f"{source}: valid ({len(settings.accounts)} account(s): {', '.join(sorted(settings.accounts))})"
        )
    else:
        looked = ", ".join(str(p) for p in candidate_paths())
        out.write(f"no config file found (looked in {looked}); the built-in defaults apply and are valid")


@app.command("show")
def show(ctx: typer.Context, json_flag: JsonFlag = False) -> None:
    """Print the effective configuration (defaults filled in, paths resolved, secrets masked).

    \b
    Example:
      mmctl config show --json
    """
    from mmctl.config.load import load_settings

    g = globals_of(ctx)
    out = g.output(json_flag)
    try:
        settings = load_settings(g.config)
    except MmctlError as e:
        fail(e, out)
    doc = effective(settings, g.socket)
    if out.json:
        out.document(doc)
        return
    import tomli_w

    out.write(f"# effective configuration from {settings.source or 'built-in defaults'}")
    out.stream.write(tomli_w.dumps(doc))


def effective(settings: Settings, socket_override: str | None) -> dict[str, Any]:
    doc = _plain(dataclasses.asdict(settings))
    doc.pop("source", None)
    doc["daemon"]["socket"] = str(resolve_socket(socket_override, settings.daemon.socket))
    doc["daemon"]["state_dir"] = str(resolve_state_dir(settings.daemon.state_dir))
    masked: dict[str, Any] = mask_secrets(doc)
    return masked


def _plain(value: Any) -> Any:
    """Decimals as strings, tuples as lists: what TOML and JSON can both hold."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _secret_key(key: str) -> bool:
    """A key that may hold a secret; `*_env` keys name an environment variable, not its value."""
    low = key.lower()
    return not low.endswith("_env") and any(w in low for w in SECRET_WORDS)


def mask_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: MASK if _secret_key(k) and v else mask_secrets(v) for k, v in value.items()}
    return value
