"""RQ job entry points. Jobs take ids or plain dicts and call into ``app``."""
