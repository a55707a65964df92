"""Every ``wats`` subcommand reaches real code: a command whose module was moved or renamed
fails here, not in a developer's terminal."""

from __future__ import annotations

import pytest

from wats import cli


def test_every_subcommand_has_a_handler():
    parser = cli.build_parser()
    choices = next(a for a in parser._actions if a.dest == "command").choices
    assert choices is not None
    assert set(choices) == set(cli.COMMANDS)


@pytest.mark.parametrize("name", sorted(n for n, c in cli.COMMANDS.items() if isinstance(c, cli.Delegate)))
def test_delegated_commands_resolve(name: str):
    command = cli.COMMANDS[name]
    assert isinstance(command, cli.Delegate)
    assert callable(command.resolve())
