"""`pocdojo --help` at every level: each option says what it does and shows its default."""

from __future__ import annotations

import argparse
import contextlib
import io
from collections.abc import Iterator

import pytest

from deploy.cli import _parser, main


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser of the command tree with the words that reach it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _commands(child, (*path, name))


COMMANDS = list(_commands(_parser()))


def test_the_tree_is_walked() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"dev", "serve", "migrate", "tenants list", "users reset-password", "users set-role"} <= names


@pytest.mark.parametrize(("path", "parser"), COMMANDS, ids=[" ".join(p) or "pocdojo" for p, _ in COMMANDS])
def test_every_option_has_help_and_shows_its_default(path: tuple[str, ...], parser: argparse.ArgumentParser) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exited:
        main([*path, "--help"])
    assert exited.value.code == 0
    shown = " ".join(out.getvalue().split())
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help and action.help != argparse.SUPPRESS, f"pocdojo {' '.join(path)}: {action.dest} has no help"
        assert " ".join(action.help.split()) in shown
        optional_with_value = action.option_strings and action.default not in (None, False, argparse.SUPPRESS)
        if optional_with_value and not action.required:
            assert f"(default: {action.default})" in shown, f"pocdojo {' '.join(path)}: {action.dest}"
