"""The runtime kit: what every EventLedger service needs to run, apart from the provisioning tool.

The provisioning tool (``eventledger_infra``: apt, Maven, the local servers, the supervisor) installs and starts
things; this package is what the services themselves import.
"""
