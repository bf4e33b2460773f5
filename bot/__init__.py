"""tipbot: a Telegram bot for reporting war crimes and human-rights violations.

The ``bot`` package holds the application: settings, wiring, the command line, and the
services that do the work (media store, gazetteer, custody log, intake). It knows nothing of
Telegram's update objects beyond what handlers hand it.
"""

__version__ = "0.1.0"
