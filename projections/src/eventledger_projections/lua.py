"""Redis Lua scripts, kept in ``.lua`` files beside the module that runs them (package data of this distribution)."""

from __future__ import annotations

from importlib.resources import files


def lua_script(package: str, *names: str) -> str:
    """The ``<name>.lua`` files of ``package`` joined in order: the shared functions a script calls, then the script."""
    return "".join(files(package).joinpath(f"{name}.lua").read_text(encoding="utf-8") for name in names)
