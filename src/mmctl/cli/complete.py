"""Shell completion for bash, zsh and fish: the scripts (`mmctl completion SHELL`) and the completer
they call on TAB (`mmctl __complete WORD...`, the words typed after `mmctl`, the last one being
completed; one candidate per line).

The completer imports nothing but the standard library and, only to complete a bot name, the socket
resolution and the RPC client: no typer, so a TAB costs a fraction of a command (`bench/completion.py`).
Commands and options come from `COMMANDS`, a table a test keeps equal to the typer app's. Bot names come
from the daemon (`bot.list`) within `NAMES_TIMEOUT_S`; no daemon, a slow one or any error means no names,
never an error message in the middle of the command line.
"""

from __future__ import annotations

import os
import sys

SHELLS = ("bash", "zsh", "fish")

NAMES_TIMEOUT_S = 0.25
"""How long a TAB waits for the daemon's bot names before completing without them."""

GLOBAL_OPTIONS = ("--socket", "--config", "--json", "--output", "--timeout", "--version", "--help", "-h")
VALUE_OPTIONS = frozenset(
    {"--socket", "--config", "--output", "--timeout", "--symbol", "--account", "--strategy", "--set",
     "--from", "--seconds", "--seed", "--since", "--until", "--tz", "--kind", "--limit", "--bot", "--by",
     "--interval", "--log-level", "--log-format", "--data", "--to", "--from-bot", "--fees", "--latency-ms",
     "--report", "--workers", "--from-backtest", "--out", "--for", "--rest-url", "--ws-url"}
)  # fmt: skip
"""Options that take a value (the word after them is that value, not a command or an argument)."""

CHOICES = {
    "--output": ("table", "tsv", "json"),
    "--by": ("day", "week", "month", "symbol", "bot", "type"),
    "--kind": ("state", "order", "cancel", "fill", "reject", "retry", "error", "risk", "info", "recovery"),
    "--log-level": ("debug", "info", "warning", "error"),
    "--log-format": ("auto", "journal", "json", "console"),
    "--strategy": ("avellaneda_stoikov", "macd", "market_maker", "mean_reversion", "rsi"),
}
"""Values offered after an option (the others complete to files or to nothing)."""

BOTS = "bots"  # positional arguments are bot names
BOT = "bot"  # the first positional argument is a bot name

COMMANDS: dict[str, tuple[tuple[str, ...], str | tuple[str, ...] | None]] = {
    "backtest": (
        (
            "--data",
            "--strategy",
            "--symbol",
            "--from",
            "--to",
            "--set",
            "--from-bot",
            "--fees",
            "--latency-ms",
            "--seed",
            "--report",
            "--workers",
            "--json",
        ),
        None,
    ),
    "cancel-all": (("--symbol", "--account", "--all", "--yes", "-y", "--json"), BOTS),
    "completion": ((), SHELLS),
    "config check": (("--json",), None),
    "config init": (("--force", "--json"), None),
    "config show": (("--json",), None),
    "create": (("--account", "--symbol", "--strategy", "--set", "--from", "--from-backtest", "--json"), None),
    "daemon run": (("--config", "--log-level", "--log-format"), None),
    "db backup": (("--json",), None),
    "db check": (("--json",), None),
    "db vacuum": (("--json",), None),
    "demo": (("--seconds", "--seed", "--json"), None),
    "events": (("--since", "--tz", "--kind", "--limit", "--follow", "-f", "--json"), BOT),
    "export": (("--json",), BOT),
    "fills": (("--since", "--until", "--tz", "--limit", "--json"), BOT),
    "health": (("--json",), None),
    "leverage": (("--json",), BOT),
    "list": (("--json",), None),
    "orders": (("--all", "--since", "--tz", "--limit", "--json"), BOT),
    "paper reset": (("--yes", "-y", "--json"), None),
    "pause": (("--all", "--json"), BOTS),
    "pnl": (
        ("--since", "--until", "--account", "--symbol", "--bot", "--by", "--tz", "--json", "--csv"),
        None,
    ),
    "portfolio": (("--json",), None),
    "record": (("--out", "--for", "--rest-url", "--ws-url", "--json"), None),
    "remove": (("--yes", "-y", "--json"), BOT),
    "resume": (("--all", "--json"), BOTS),
    "set": (("--json",), BOT),
    "start": (("--all", "--json"), BOTS),
    "status": (("--watch", "--interval", "--json"), BOT),
    "stop": (("--all", "--flatten", "--yes", "-y", "--json"), BOTS),
    "strategies show": (("--json",), CHOICES["--strategy"]),
    "version": (("--json",), None),
}
"""Each command (groups as "group sub"): its options, and what its positional arguments are: bot
names (`BOTS`), a bot name first (`BOT`), fixed choices, or anything (None)."""

GROUPS = {"config", "daemon", "db", "paper", "strategies"}


def candidates(words: list[str]) -> list[str]:
    """What may follow `words[:-1]`, starting with `words[-1]` (the word under the cursor)."""
    *done, current = words or [""]
    if done and done[-1] in VALUE_OPTIONS:
        return _prefixed(_option_values(done[-1], done), current)
    path: list[str] = []
    positionals = 0
    skip = False
    for word in done:
        if skip:
            skip = False
        elif word in VALUE_OPTIONS:
            skip = True
        elif word.startswith("-"):
            continue
        elif not path or (path[0] in GROUPS and len(path) == 1):
            path.append(word)
        else:
            positionals += 1
    command = " ".join(path)
    if not path or (path[0] in GROUPS and len(path) == 1 and command not in COMMANDS):
        prefix = f"{path[0]} " if path else ""
        subs = sorted({c[len(prefix) :].split(" ")[0] for c in COMMANDS if c.startswith(prefix)})
        if not path:
            subs = sorted(set(subs) | GROUPS)
        pool = list(GLOBAL_OPTIONS) + subs if current.startswith("-") or not path else subs
        return _prefixed(pool if current.startswith("-") else subs, current)
    spec = COMMANDS.get(command)
    if spec is None:
        return []
    options, args = spec
    if current.startswith("-"):
        return _prefixed([*options, "--output", "--help", "-h"], current)
    if args == BOTS or (args == BOT and positionals == 0):
        return _prefixed(bot_names(done), current)
    if isinstance(args, tuple) and positionals == 0:
        return _prefixed(list(args), current)
    return []


def _option_values(option: str, done: list[str]) -> list[str]:
    if option in CHOICES:
        return list(CHOICES[option])
    if option == "--bot":
        return bot_names(done)
    return []


def _prefixed(pool: list[str], current: str) -> list[str]:
    return [c for c in pool if c.startswith(current)]


def bot_names(words: list[str]) -> list[str]:
    """The daemon's bot names, or none (no daemon, no permission, too slow: never an error)."""
    try:
        from mmctl.paths import resolve_socket_choice
        from mmctl.rpc.client import Client

        named = _value_of("--socket", words)
        configured = "" if named or os.environ.get("MMCTL_SOCKET") else _configured_socket(words)
        choice = resolve_socket_choice(named, configured, role="cli")
        with Client(choice.path, timeout_s=NAMES_TIMEOUT_S, origin=choice.origin) as client:
            rows = client.call("bot.list")
        return [str(r["name"]) for r in rows if isinstance(r, dict) and "name" in r]
    except Exception:  # the one boundary: completion must never print an error or fail
        return []


def _configured_socket(words: list[str]) -> str:
    """The config's `[daemon] socket`, when a config file names one, read quietly and cheaply: the
    file `mmctl.config.load.find_config` would use (`--config`, `$MMCTL_CONFIG`, then the first of
    `config_candidates` that exists), parsed by tomllib alone (the config modules cost ~50 ms)."""
    import tomllib

    explicit = _value_of("--config", words) or os.environ.get("MMCTL_CONFIG")
    paths = [explicit] if explicit else config_candidates()
    for path in paths:
        if os.path.isfile(path):
            with open(path, "rb") as f:
                daemon = tomllib.load(f).get("daemon", {})
            socket = daemon.get("socket", "") if isinstance(daemon, dict) else ""
            return socket if isinstance(socket, str) else ""
    return ""


def config_candidates() -> list[str]:
    """`mmctl.config.load.candidate_paths` without `$MMCTL_CONFIG` (a test keeps them equal)."""
    home = os.environ.get("HOME") or os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or (os.path.join(home, ".config") if home and home != "~" else "")
    return [*([os.path.join(xdg, "mmctl", "config.toml")] if xdg else []), "/etc/mmctl/config.toml"]


def _value_of(option: str, words: list[str]) -> str | None:
    for i, word in enumerate(words):
        if word == option and i + 1 < len(words):
            return words[i + 1]
        if word.startswith(option + "="):
            return word.split("=", 1)[1]
    return None


def complete_main(args: list[str]) -> int:
    """`mmctl __complete WORD...`: print the candidates, one a line; always exit 0."""
    for candidate in candidates(args):
        sys.stdout.write(candidate + "\n")
    return 0


BASH = """\
# bash completion for mmctl (mmctl completion bash)
_mmctl_complete() {
    local IFS=$'\\n'
    COMPREPLY=($(mmctl __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -o nosort -F _mmctl_complete mmctl 2>/dev/null \\
    || complete -o default -F _mmctl_complete mmctl
"""

ZSH = """\
#compdef mmctl
# zsh completion for mmctl (mmctl completion zsh)
_mmctl() {
    local -a candidates
    candidates=("${(@f)$(mmctl __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    compadd -Q -- "${(@)candidates:#}"
}
compdef _mmctl mmctl
"""

FISH = """\
# fish completion for mmctl (mmctl completion fish)
function __mmctl_complete
    set -l words (commandline -opc) (commandline -ct)
    mmctl __complete $words[2..-1] 2>/dev/null
end
complete -c mmctl -f -a '(__mmctl_complete)'
"""


def script(shell: str) -> str:
    """The completion script for `shell` (one of `SHELLS`)."""
    return {"bash": BASH, "zsh": ZSH, "fish": FISH}[shell]
