"""EventLedger projections (its service lands with a later issue)."""
