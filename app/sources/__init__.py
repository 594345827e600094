"""Inventory sources Forecourt pulls (Carfluence): scheduled and on-demand pulls, fingerprints,
and the sold grace before a vanished vehicle is removed."""
