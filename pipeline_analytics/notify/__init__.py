"""The digest: alert rules, the message, and its delivery by e-mail and webhook."""
