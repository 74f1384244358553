"""The `pocdojo` parser class: every command's `--help` shows each option's default beside its help."""

from __future__ import annotations

import argparse
from typing import Any


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows `(default: X)` where there is a default to show: not on required options, flags that are
    off unless given, or options whose help says what their absence means."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.required or action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose help lists defaults; its subcommands' parsers are of this class too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _DefaultsFormatter)
        super().__init__(*args, **kwargs)
