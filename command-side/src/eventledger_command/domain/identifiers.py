"""Stream ids and the per-currency external account, as the domain uses them.

They are defined by the event contracts (``eventledger_events.streams``) because every part of the system reads
them: stream ids are Kafka keys and audit paths; projections recognise the external account.
"""

from __future__ import annotations

from eventledger_events.streams import account_stream_id, external_account_id, transfer_stream_id

__all__ = ["account_stream_id", "external_account_id", "transfer_stream_id"]
