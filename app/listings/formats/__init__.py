"""The source formats Forecourt reads cars from, validated and normalised (marshmallow 4).

They belong to the listings domain (what a car is, as each source describes it), not to the
webhook endpoints, which only verify, record and accept. Two kinds of input arrive here,
already authenticated (``app.webhooks.signatures``) and JSON-decoded by the HTTP handler:

* WordPress post events, from the "WP Webhooks" plugin or Forecourt's companion plugin, loaded
  by ``load_wordpress_event`` into a ``WordPressEvent``.
* DMS stock feeds in Auterio's or Carslink's push format, loaded by ``load_auterio`` /
  ``load_carslink_feed`` into a ``FeedLoad``. A bad vehicle is skipped and reported; only a
  malformed request as a whole raises.

Contract: for any JSON-decoded input these functions either return or raise
``marshmallow.ValidationError`` whose ``messages`` are keyed by field path. Nothing else
escapes, whatever the types (lists for objects, nulls, huge numbers, NaN), which is why the
fields below are hand-written rather than marshmallow's stock ``Integer``/``Float``
(``Integer`` silently truncates 2.5, and ``str()`` of a huge int raises ``ValueError``).
"""


from app.listings.formats.auterio import AUTERIO_MAX_VEHICLES, load_auterio
from app.listings.formats.carslink import CARSLINK_MAX_LISTINGS, load_carslink_feed
from app.listings.formats.common import AUTERIO_STATUSES, EVENTS
from app.listings.formats.feeds import FeedLoad, detect_dms_format
from app.listings.formats.wordpress import WordPressEvent, is_ignorable, load_wordpress_event, normalise_event_name

__all__ = [
    "AUTERIO_MAX_VEHICLES",
    "AUTERIO_STATUSES",
    "CARSLINK_MAX_LISTINGS",
    "EVENTS",
    "FeedLoad",
    "WordPressEvent",
    "detect_dms_format",
    "is_ignorable",
    "load_auterio",
    "load_carslink_feed",
    "load_wordpress_event",
    "normalise_event_name",
]
