"""bench/lag: webhook accepted -> marketplace call done."""
