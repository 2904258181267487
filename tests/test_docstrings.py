"""Every public function, class and command line command says what it does: a docstring whose first
line is a sentence of its own (not empty, not a dataclass's generated signature).

The public names are the ``__all__`` of the public modules (the ones the API reference is generated
from); the commands are those of ``neuromod.cli.app`` and its sub-commands.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _api_extension():
    """docs/_ext/neuromod_api.py, which lists the public modules the API reference documents: the
    test checks exactly those (it imports nothing from Sphinx)."""
    spec = importlib.util.spec_from_file_location("neuromod_api", REPO / "docs" / "_ext" / "neuromod_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


API = _api_extension()


def _public_objects() -> list[tuple[str, object]]:
    objects = []
    for module_name in API.PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in API.public_names(module_name):
            obj = getattr(module, name)  # a name in __all__ that does not import is a failure too
            if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj):
                objects.append((f"{module_name}.{name}", obj))
    return objects


def _first_line(doc: str | None) -> str:
    lines = inspect.cleandoc(doc or "").splitlines()
    return lines[0].strip() if lines else ""


def _says_what_it_does(obj: object) -> bool:
    # the object's own docstring: a class without one would otherwise show its parent's
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
    first = _first_line(doc)
    if not first:
        return False
    # dataclasses write "Name(field: type, ...)" where no docstring was given
    return not (inspect.isclass(obj) and first.startswith(f"{obj.__name__}("))


PUBLIC = _public_objects()


def test_the_public_api_is_found():
    names = {name for name, _ in PUBLIC}
    assert {"neuromod.device.use_device", "neuromod.results.RunFolder", "neuromod.models.GatedPlasticRNN",
            "neuromod.protocols.run_protocol", "neuromod.analysis.compare"} <= names


@pytest.mark.parametrize("name, obj", PUBLIC, ids=[name for name, _ in PUBLIC])
def test_public_function_or_class_has_a_first_line(name, obj):
    assert _says_what_it_does(obj), f"{name}: its docstring needs a first line saying what it does"


def _commands() -> list[tuple[str, object]]:
    from neuromod.cli import app

    found = []

    def walk(typer_app, prefix: str) -> None:
        for info in typer_app.registered_commands:
            name = info.name or info.callback.__name__.replace("_", "-")
            found.append((f"{prefix}{name}".strip(), info))
        for group in typer_app.registered_groups:
            found.append((f"{prefix}{group.name}".strip(), group))
            walk(group.typer_instance, f"{prefix}{group.name} ")

    walk(app, "neuromod ")
    return found


COMMANDS = _commands()


def test_the_commands_are_found():
    names = {name for name, _ in COMMANDS}
    assert {"neuromod demo", "neuromod protocol", "neuromod protocol run", "neuromod train", "neuromod compare"} <= names


@pytest.mark.parametrize("name, info", COMMANDS, ids=[name for name, _ in COMMANDS])
def test_command_has_a_first_line(name, info):
    if hasattr(info, "typer_instance"):  # a group of commands: its help text
        text = info.help or info.typer_instance.info.help
    else:
        text = info.help or info.callback.__doc__
    assert _first_line(text), f"`{name}`: its help needs a first line saying what it does"


def test_the_check_catches_what_it_should():
    from dataclasses import dataclass

    def documented():
        """Do one thing."""

    def undocumented():
        pass

    @dataclass
    class Plain:
        x: int

    class Child(Plain):
        pass

    assert _says_what_it_does(documented)
    assert not _says_what_it_does(undocumented)
    assert not _says_what_it_does(Plain)
    assert not _says_what_it_does(Child)


def _click_commands():
    import click
    import typer

    from neuromod.cli import app

    found = []

    def walk(command, path: str) -> None:
        found.append((path, command))
        if isinstance(command, click.Group):
            for name, sub in sorted(command.commands.items()):
                walk(sub, f"{path} {name}")

    walk(typer.main.get_command(app), "neuromod")
    return found


CLICK_COMMANDS = _click_commands()


@pytest.mark.parametrize("name, command", CLICK_COMMANDS, ids=[name for name, _ in CLICK_COMMANDS])
def test_every_option_and_argument_has_help(name, command):
    missing = [param.name for param in command.params
               if param.name != "help" and not (getattr(param, "help", None) or "").strip()]
    assert missing == [], f"`{name}`: no help text for {missing}"
