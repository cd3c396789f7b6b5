"""Stand-ins for the outside world, for the demo, the tests and the benchmarks: a DNS server,
government websites, the registry's badge host, an SMTP server and an SMS gateway, all on
loopback. No product package imports this one (the import contract in ``pyproject.toml``
checks it); only ``badgewatch demo``, ``tests/`` and ``bench/`` do."""
