"""The base class of every event payload."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class DomainEvent(BaseModel):
    """An immutable fact, named by a stable, explicit, versioned type.

    Contract for subclasses:
    - ``EVENT_TYPE`` is ``"<category>.<past_tense_name>"`` (e.g. ``"account.opened"``); the category is the
      prefix of the stream it lives in (``account-<uuid>``), and decides its Kafka topic.
    - ``SCHEMA_VERSION`` starts at 1 and grows by one for each change of the payload; a new version needs an
      upcaster from the previous one, and the old model class stays (renamed ``...V<n>``) so its data and
      published Avro schema remain readable.
    - Fields are pydantic-validated and frozen; unknown fields are refused.
    - The Python module path of the class is never part of the contract: only ``full_name()`` is.
    - ``PERSONAL_FIELDS`` names the fields holding personal data: they are stored sealed with the keys of the data
      subjects (the accounts) named by the fields in ``PERSONAL_SUBJECTS`` (:mod:`eventledger_events.personal`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    EVENT_TYPE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int]
    PERSONAL_FIELDS: ClassVar[frozenset[str]] = frozenset()
    PERSONAL_SUBJECTS: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def full_name(cls) -> str:
        """The versioned name, e.g. ``"account.opened.v2"``."""
        return f"{cls.EVENT_TYPE}.v{cls.SCHEMA_VERSION}"

    @classmethod
    def category(cls) -> str:
        """The stream category this event belongs to, e.g. ``"account"``."""
        return cls.EVENT_TYPE.split(".", 1)[0]
