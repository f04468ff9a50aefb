"""Creating, switching and deleting versions of the read model (the concrete indices behind the aliases).

Every operation is safe to repeat and to run from several processes at once: creating what exists is ignored,
adding an alias that is there already changes nothing.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import BadRequestError, Elasticsearch, NotFoundError

from eventledger_projections.elasticsearch.mappings import (
    HOLDERS_MAPPING,
    LIVE_SETTINGS,
    PROGRESS_MAPPING,
    TRANSFERS_MAPPING,
    index_settings,
)
from eventledger_projections.elasticsearch.names import IndexNames


class VersionConflict(Exception):
    """The aliases point at different versions, or a version to build already exists."""


def _create(es: Elasticsearch, index: str, mappings: dict[str, Any], settings: dict[str, Any]) -> bool:
    """Create ``index``; False when it exists already."""
    try:
        es.indices.create(index=index, mappings=mappings, settings=settings)
    except BadRequestError as exc:
        if exc.error == "resource_already_exists_exception":
            return False
        raise
    return True


def ensure_progress_index(es: Elasticsearch, names: IndexNames, *, replicas: int = 0) -> None:
    """Create the progress index, or add to an existing one the fields added since it was created."""
    if not _create(es, names.progress, PROGRESS_MAPPING, index_settings(replicas=replicas)):
        es.indices.put_mapping(index=names.progress, properties=PROGRESS_MAPPING["properties"])


def create_version(es: Elasticsearch, names: IndexNames, version: int, *, replicas: int, building: bool) -> bool:
    """Create both indices of ``version``; False when they existed already. ``building`` turns refreshes off
    (a rebuild writes faster without them; reads by id are real-time regardless) until :func:`finish_building`."""
    settings = index_settings(replicas=replicas, building=building)
    transfers_created = _create(es, names.transfers_version(version), TRANSFERS_MAPPING, settings)
    return _create(es, names.holders_version(version), HOLDERS_MAPPING, settings) and transfers_created


def finish_building(es: Elasticsearch, names: IndexNames, version: int) -> None:
    """Back to the live settings (refreshes, a translog synced per request), then refresh and flush once: the
    version is searchable and everything written so far is durable."""
    indices = [names.transfers_version(version), names.holders_version(version)]
    es.indices.put_settings(index=indices, settings={"index": LIVE_SETTINGS})
    es.indices.refresh(index=indices)
    es.indices.flush(index=indices)


def live_version(es: Elasticsearch, names: IndexNames) -> int | None:
    """The version both aliases point at; None when there is no alias yet."""
    versions: set[int | None] = set()
    for alias in (names.transfers, names.holders):
        try:
            indices = list(es.indices.get_alias(name=alias).body)
        except NotFoundError:
            versions.add(None)
            continue
        if len(indices) != 1:
            raise VersionConflict(f"alias {alias} points at {sorted(indices)}, not at one index")
        versions.add(names.version_of(indices[0]))
    if len(versions) != 1:
        raise VersionConflict(f"the aliases {names.transfers} and {names.holders} point at different versions")
    return versions.pop()


def existing_versions(es: Elasticsearch, names: IndexNames) -> set[int]:
    """Every version of which at least one index exists (live, being built, or left behind)."""
    pattern = f"{names.transfers}-v*,{names.holders}-v*"
    found = es.indices.get(index=pattern, expand_wildcards="all", allow_no_indices=True).body
    return {v for v in (names.version_of(index) for index in found) if v is not None}


def ensure_read_model(es: Elasticsearch, names: IndexNames, *, replicas: int = 0) -> int:
    """Make sure a live version and the progress index exist (version 1 when there is none); the live version."""
    ensure_progress_index(es, names, replicas=replicas)
    live = live_version(es, names)
    if live is not None:
        return live
    create_version(es, names, 1, replicas=replicas, building=False)
    switch_aliases(es, names, None, 1)
    return 1


def switch_aliases(es: Elasticsearch, names: IndexNames, old: int | None, new: int) -> None:
    """Point both aliases at ``new`` in one atomic ``_aliases`` request (readers see either version whole)."""
    actions: list[dict[str, Any]] = []
    if old is not None:
        actions += [
            {"remove": {"index": names.transfers_version(old), "alias": names.transfers}},
            {"remove": {"index": names.holders_version(old), "alias": names.holders}},
        ]
    actions += [
        {"add": {"index": names.transfers_version(new), "alias": names.transfers}},
        {"add": {"index": names.holders_version(new), "alias": names.holders}},
    ]
    es.indices.update_aliases(actions=actions)


def delete_version(es: Elasticsearch, names: IndexNames, version: int) -> None:
    es.options(ignore_status=404).indices.delete(
        index=[names.transfers_version(version), names.holders_version(version)], ignore_unavailable=True
    )
