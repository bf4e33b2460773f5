"""Telegram-facing code: one module per role or flow. Thin: parse the update, call a service,
render a reply from the message catalog."""
