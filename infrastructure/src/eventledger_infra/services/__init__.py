"""One module per local server; each implements :class:`eventledger_infra.services.base.LocalServer`."""
