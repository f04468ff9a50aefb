"""Consumer groups that tests and benchmarks leave on the broker: they delete their own, by prefix, and the session
deletes whatever a test left behind (an empty group only: the broker refuses to delete one with members)."""

from __future__ import annotations

import contextlib

from confluent_kafka import Consumer, KafkaException
from confluent_kafka.admin import AdminClient


def group_ids(bootstrap: str) -> set[str]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    listed = admin.list_consumer_groups(request_timeout=10).result()
    return {group.group_id for group in listed.valid}


def delete_groups(bootstrap: str, groups: set[str] | list[str]) -> list[str]:
    """Delete ``groups``; answers the ones that could not be deleted (still in use, or already gone)."""
    if not groups:
        return []
    admin = AdminClient({"bootstrap.servers": bootstrap})
    left: list[str] = []
    for group, future in admin.delete_consumer_groups(sorted(groups), request_timeout=15).items():
        try:
            future.result()
        except KafkaException:
            left.append(group)
    return left


def delete_groups_with_prefix(bootstrap: str, *prefixes: str) -> None:
    """Delete every group whose id starts with one of ``prefixes`` (a test's namespace, an app id)."""
    with contextlib.suppress(KafkaException):
        delete_groups(bootstrap, {g for g in group_ids(bootstrap) if g.startswith(prefixes)})


def reader(bootstrap: str, topics: list[str], group: str) -> Consumer:
    """A consumer of ``topics`` in ``group``, subscribed, that starts at their beginning and commits only what it is
    told to (a fresh group reads everything; the session deletes the groups tests leave behind)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe(topics)
    return consumer
