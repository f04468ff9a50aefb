"""EventLedger gateway (its service lands with a later issue)."""
