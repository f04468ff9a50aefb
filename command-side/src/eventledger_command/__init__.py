"""EventLedger write side: the ledger domain, the event store, the command service and the relay."""
