"""``python -m badgewatch`` is the ``badgewatch`` command."""

from badgewatch.cli.main import main

main()
