"""``python -m bot`` does what the ``tipbot`` command does."""

from bot.cli import main

raise SystemExit(main())
