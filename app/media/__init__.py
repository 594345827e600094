"""Photo ingestion: fetch dealer photos safely, normalise them to WebP, serve them from Forecourt.

``app.media.service`` is the entry point for the sync engine (``plan``, ``ingest``, ``resolve``);
the other modules are its parts: ``fetch`` (SSRF-safe HTTP), ``normalise`` (Pillow),
``store`` (content-addressed files), ``models`` (``MediaAsset``) and ``views`` (``/media/<sha>.webp``).
"""
