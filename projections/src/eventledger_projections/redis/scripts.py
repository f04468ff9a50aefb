"""The Lua scripts that are the only writers of the read model (EVALSHA, loaded again after a Redis restart). The
Lua itself is in the ``*.lua`` files beside this module; scripts that move the reflected position start with
``recompute_reflected.lua``.

Why scripts: a script runs atomically, so the rows, the per-partition offsets and the reflected-position marks
move together (the checkpoint "in the same transaction" of docs/adr/0007), and the version guard is read and
written without a window in between. Redis does not roll a script back when it fails half-way, so ``APPLY``
works in two phases: it folds the whole batch in memory first and refuses (``ELPOISON``) before its first write.

Error replies: ``ELPOISON`` (the batch holds an event the read model cannot take: a fault of the event),
``ELBUSY`` (a rebuild is taking over from this version for a moment: retry), ``ELSTATE`` and ``ELSWITCH``
(a rebuild's own preconditions failed).

Conventions: scripts take no KEYS (they build names under the base they are given: one Redis instance, not a
Cluster); integers travel as decimal strings; a script answering ``-1`` means "the live pointer no longer names
the version you wrote to" (a rebuild switched, or Redis lost its data).
"""

from __future__ import annotations

from typing import Final

from eventledger_projections.lua import lua_script

MOVED: Final = -1

_HERE = "eventledger_projections.redis"

APPLY: Final = lua_script(_HERE, "recompute_reflected", "apply")
MARK_CAUGHT_UP: Final = lua_script(_HERE, "recompute_reflected", "mark_caught_up")
SEAL: Final = lua_script(_HERE, "recompute_reflected", "seal")
LOAD_OFFSETS: Final = lua_script(_HERE, "load_offsets")
REFLECTED: Final = lua_script(_HERE, "reflected")
BEGIN_HANDOVER: Final = lua_script(_HERE, "begin_handover")
END_HANDOVER: Final = lua_script(_HERE, "end_handover")
SWITCH: Final = lua_script(_HERE, "switch")
BEGIN_BUILD: Final = lua_script(_HERE, "begin_build")
RENEW_LOCK: Final = lua_script(_HERE, "renew_lock")
RELEASE_LOCK: Final = lua_script(_HERE, "release_lock")
