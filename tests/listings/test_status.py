"""The WordPress status table, every (event x post_status x flag x ever_published) row spelled out.

Columns: event, post_status, flag_status ("-" = None), ever_published, expected ("-" = None).
"""

import itertools

import pytest

from app.listings.parsing import ParseError
from app.listings.status import (
    EVENTS,
    FLAGS,
    WP_POST_STATUSES,
    decide_dms_status,
    decide_status,
    normalise_event,
)

TABLE = """
    save     publish     -            no   active
    save     publish     -            yes  active
    save     publish     sold         no   sold
    save     publish     sold         yes  sold
    save     publish     reserved     no   reserved
    save     publish     reserved     yes  reserved
    save     publish     coming_soon  no   coming_soon
    save     publish     coming_soon  yes  coming_soon
    save     draft       -            no   -
    save     draft       -            yes  inactive
    save     draft       sold         no   -
    save     draft       sold         yes  inactive
    save     draft       reserved     no   -
    save     draft       reserved     yes  inactive
    save     draft       coming_soon  no   -
    save     draft       coming_soon  yes  inactive
    save     pending     -            no   -
    save     pending     -            yes  inactive
    save     pending     sold         no   -
    save     pending     sold         yes  inactive
    save     pending     reserved     no   -
    save     pending     reserved     yes  inactive
    save     pending     coming_soon  no   -
    save     pending     coming_soon  yes  inactive
    save     private     -            no   -
    save     private     -            yes  inactive
    save     private     sold         no   -
    save     private     sold         yes  inactive
    save     private     reserved     no   -
    save     private     reserved     yes  inactive
    save     private     coming_soon  no   -
    save     private     coming_soon  yes  inactive
    save     future      -            no   -
    save     future      -            yes  inactive
    save     future      sold         no   -
    save     future      sold         yes  inactive
    save     future      reserved     no   -
    save     future      reserved     yes  inactive
    save     future      coming_soon  no   -
    save     future      coming_soon  yes  inactive
    save     trash       -            no   deleted
    save     trash       -            yes  deleted
    save     trash       sold         no   deleted
    save     trash       sold         yes  deleted
    save     trash       reserved     no   deleted
    save     trash       reserved     yes  deleted
    save     trash       coming_soon  no   deleted
    save     trash       coming_soon  yes  deleted
    save     auto-draft  -            no   -
    save     auto-draft  -            yes  -
    save     auto-draft  sold         no   -
    save     auto-draft  sold         yes  -
    save     auto-draft  reserved     no   -
    save     auto-draft  reserved     yes  -
    save     auto-draft  coming_soon  no   -
    save     auto-draft  coming_soon  yes  -
    save     inherit     -            no   -
    save     inherit     -            yes  -
    save     inherit     sold         no   -
    save     inherit     sold         yes  -
    save     inherit     reserved     no   -
    save     inherit     reserved     yes  -
    save     inherit     coming_soon  no   -
    save     inherit     coming_soon  yes  -
    untrash  publish     -            no   active
    untrash  publish     -            yes  active
    untrash  publish     sold         no   sold
    untrash  publish     sold         yes  sold
    untrash  publish     reserved     no   reserved
    untrash  publish     reserved     yes  reserved
    untrash  publish     coming_soon  no   coming_soon
    untrash  publish     coming_soon  yes  coming_soon
    untrash  draft       -            no   -
    untrash  draft       -            yes  inactive
    untrash  draft       sold         no   -
    untrash  draft       sold         yes  inactive
    untrash  draft       reserved     no   -
    untrash  draft       reserved     yes  inactive
    untrash  draft       coming_soon  no   -
    untrash  draft       coming_soon  yes  inactive
    untrash  pending     -            no   -
    untrash  pending     -            yes  inactive
    untrash  pending     sold         no   -
    untrash  pending     sold         yes  inactive
    untrash  pending     reserved     no   -
    untrash  pending     reserved     yes  inactive
    untrash  pending     coming_soon  no   -
    untrash  pending     coming_soon  yes  inactive
    untrash  private     -            no   -
    untrash  private     -            yes  inactive
    untrash  private     sold         no   -
    untrash  private     sold         yes  inactive
    untrash  private     reserved     no   -
    untrash  private     reserved     yes  inactive
    untrash  private     coming_soon  no   -
    untrash  private     coming_soon  yes  inactive
    untrash  future      -            no   -
    untrash  future      -            yes  inactive
    untrash  future      sold         no   -
    untrash  future      sold         yes  inactive
    untrash  future      reserved     no   -
    untrash  future      reserved     yes  inactive
    untrash  future      coming_soon  no   -
    untrash  future      coming_soon  yes  inactive
    untrash  trash       -            no   deleted
    untrash  trash       -            yes  deleted
    untrash  trash       sold         no   deleted
    untrash  trash       sold         yes  deleted
    untrash  trash       reserved     no   deleted
    untrash  trash       reserved     yes  deleted
    untrash  trash       coming_soon  no   deleted
    untrash  trash       coming_soon  yes  deleted
    untrash  auto-draft  -            no   -
    untrash  auto-draft  -            yes  -
    untrash  auto-draft  sold         no   -
    untrash  auto-draft  sold         yes  -
    untrash  auto-draft  reserved     no   -
    untrash  auto-draft  reserved     yes  -
    untrash  auto-draft  coming_soon  no   -
    untrash  auto-draft  coming_soon  yes  -
    untrash  inherit     -            no   -
    untrash  inherit     -            yes  -
    untrash  inherit     sold         no   -
    untrash  inherit     sold         yes  -
    untrash  inherit     reserved     no   -
    untrash  inherit     reserved     yes  -
    untrash  inherit     coming_soon  no   -
    untrash  inherit     coming_soon  yes  -
    trash    publish     -            no   deleted
    trash    publish     -            yes  deleted
    trash    publish     sold         no   deleted
    trash    publish     sold         yes  deleted
    trash    publish     reserved     no   deleted
    trash    publish     reserved     yes  deleted
    trash    publish     coming_soon  no   deleted
    trash    publish     coming_soon  yes  deleted
    trash    draft       -            no   deleted
    trash    draft       -            yes  deleted
    trash    draft       sold         no   deleted
    trash    draft       sold         yes  deleted
    trash    draft       reserved     no   deleted
    trash    draft       reserved     yes  deleted
    trash    draft       coming_soon  no   deleted
    trash    draft       coming_soon  yes  deleted
    trash    pending     -            no   deleted
    trash    pending     -            yes  deleted
    trash    pending     sold         no   deleted
    trash    pending     sold         yes  deleted
    trash    pending     reserved     no   deleted
    trash    pending     reserved     yes  deleted
    trash    pending     coming_soon  no   deleted
    trash    pending     coming_soon  yes  deleted
    trash    private     -            no   deleted
    trash    private     -            yes  deleted
    trash    private     sold         no   deleted
    trash    private     sold         yes  deleted
    trash    private     reserved     no   deleted
    trash    private     reserved     yes  deleted
    trash    private     coming_soon  no   deleted
    trash    private     coming_soon  yes  deleted
    trash    future      -            no   deleted
    trash    future      -            yes  deleted
    trash    future      sold         no   deleted
    trash    future      sold         yes  deleted
    trash    future      reserved     no   deleted
    trash    future      reserved     yes  deleted
    trash    future      coming_soon  no   deleted
    trash    future      coming_soon  yes  deleted
    trash    trash       -            no   deleted
    trash    trash       -            yes  deleted
    trash    trash       sold         no   deleted
    trash    trash       sold         yes  deleted
    trash    trash       reserved     no   deleted
    trash    trash       reserved     yes  deleted
    trash    trash       coming_soon  no   deleted
    trash    trash       coming_soon  yes  deleted
    trash    auto-draft  -            no   deleted
    trash    auto-draft  -            yes  deleted
    trash    auto-draft  sold         no   deleted
    trash    auto-draft  sold         yes  deleted
    trash    auto-draft  reserved     no   deleted
    trash    auto-draft  reserved     yes  deleted
    trash    auto-draft  coming_soon  no   deleted
    trash    auto-draft  coming_soon  yes  deleted
    trash    inherit     -            no   deleted
    trash    inherit     -            yes  deleted
    trash    inherit     sold         no   deleted
    trash    inherit     sold         yes  deleted
    trash    inherit     reserved     no   deleted
    trash    inherit     reserved     yes  deleted
    trash    inherit     coming_soon  no   deleted
    trash    inherit     coming_soon  yes  deleted
    delete   publish     -            no   deleted
    delete   publish     -            yes  deleted
    delete   publish     sold         no   deleted
    delete   publish     sold         yes  deleted
    delete   publish     reserved     no   deleted
    delete   publish     reserved     yes  deleted
    delete   publish     coming_soon  no   deleted
    delete   publish     coming_soon  yes  deleted
    delete   draft       -            no   deleted
    delete   draft       -            yes  deleted
    delete   draft       sold         no   deleted
    delete   draft       sold         yes  deleted
    delete   draft       reserved     no   deleted
    delete   draft       reserved     yes  deleted
    delete   draft       coming_soon  no   deleted
    delete   draft       coming_soon  yes  deleted
    delete   pending     -            no   deleted
    delete   pending     -            yes  deleted
    delete   pending     sold         no   deleted
    delete   pending     sold         yes  deleted
    delete   pending     reserved     no   deleted
    delete   pending     reserved     yes  deleted
    delete   pending     coming_soon  no   deleted
    delete   pending     coming_soon  yes  deleted
    delete   private     -            no   deleted
    delete   private     -            yes  deleted
    delete   private     sold         no   deleted
    delete   private     sold         yes  deleted
    delete   private     reserved     no   deleted
    delete   private     reserved     yes  deleted
    delete   private     coming_soon  no   deleted
    delete   private     coming_soon  yes  deleted
    delete   future      -            no   deleted
    delete   future      -            yes  deleted
    delete   future      sold         no   deleted
    delete   future      sold         yes  deleted
    delete   future      reserved     no   deleted
    delete   future      reserved     yes  deleted
    delete   future      coming_soon  no   deleted
    delete   future      coming_soon  yes  deleted
    delete   trash       -            no   deleted
    delete   trash       -            yes  deleted
    delete   trash       sold         no   deleted
    delete   trash       sold         yes  deleted
    delete   trash       reserved     no   deleted
    delete   trash       reserved     yes  deleted
    delete   trash       coming_soon  no   deleted
    delete   trash       coming_soon  yes  deleted
    delete   auto-draft  -            no   deleted
    delete   auto-draft  -            yes  deleted
    delete   auto-draft  sold         no   deleted
    delete   auto-draft  sold         yes  deleted
    delete   auto-draft  reserved     no   deleted
    delete   auto-draft  reserved     yes  deleted
    delete   auto-draft  coming_soon  no   deleted
    delete   auto-draft  coming_soon  yes  deleted
    delete   inherit     -            no   deleted
    delete   inherit     -            yes  deleted
    delete   inherit     sold         no   deleted
    delete   inherit     sold         yes  deleted
    delete   inherit     reserved     no   deleted
    delete   inherit     reserved     yes  deleted
    delete   inherit     coming_soon  no   deleted
    delete   inherit     coming_soon  yes  deleted
"""


def _rows():
    for line in TABLE.strip().splitlines():
        event, post_status, flag, ever, expected = line.split()
        yield (
            event,
            post_status,
            None if flag == "-" else flag,
            {"yes": True, "no": False}[ever],
            None if expected == "-" else expected,
        )


ROWS = list(_rows())


def test_table_covers_every_combination_exactly_once():
    keys = [row[:4] for row in ROWS]
    everything = set(itertools.product(EVENTS, WP_POST_STATUSES, (None, *FLAGS), (False, True)))
    assert len(keys) == len(set(keys)) == len(everything) == 256
    assert set(keys) == everything


@pytest.mark.parametrize(
    ("event", "post_status", "flag", "ever", "expected"),
    ROWS,
    ids=[f"{e}-{s}-{f or 'noflag'}-{'ever' if v else 'never'}" for e, s, f, v, _ in ROWS],
)
def test_status_table(event, post_status, flag, ever, expected):
    assert decide_status(event, post_status, flag, ever) == expected


@pytest.mark.parametrize(
    ("alias", "event"),
    [
        ("save_post", "save"),  # app.listings.formats' canonical names
        ("post_update", "save"),
        ("post_trash", "trash"),
        ("post_untrash", "untrash"),
        ("post_delete", "delete"),
        ("updated", "save"),
        ("Created", "save"),
        ("wp_trash_post", "trash"),
        ("untrashed_post", "untrash"),
        ("before_delete_post", "delete"),
        ("deleted", "delete"),
    ],
)
def test_event_aliases(alias, event):
    assert normalise_event(alias) == event


def test_unknown_event_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown WordPress event"):
        decide_status("archive", "publish", None, True)


def test_bogus_flag_is_rejected():
    with pytest.raises(ValueError, match="flag_status"):
        decide_status("save", "publish", "inactive", True)


@pytest.mark.parametrize(("ever", "expected"), [(True, "inactive"), (False, None)])
def test_custom_plugin_status_is_treated_as_hidden(ever, expected):
    assert decide_status("save", "archived", "sold", ever) == expected


def test_post_status_is_case_and_space_insensitive():
    assert decide_status("save", " Publish ", None, False) == "active"


AUTERIO = [
    ("disponible", "active"),
    ("reservado", "reserved"),
    ("vendido", "sold"),
    ("transito", "coming_soon"),
    ("tránsito", "coming_soon"),
    ("En tránsito", "coming_soon"),
    ("baja", "deleted"),
    ("VENDIDO", "sold"),
    (None, "active"),  # Auterio: "If no status is provided, vehicles default to disponible"
    ("", "active"),
]


@pytest.mark.parametrize(("raw", "expected"), AUTERIO)
def test_auterio_statuses(raw, expected):
    assert decide_dms_status("auterio", raw) == expected


@pytest.mark.parametrize("raw", ["perdido", 3, "sold"])
def test_auterio_unknown_status(raw):
    with pytest.raises(ParseError, match="unknown Auterio status"):
        decide_dms_status("auterio", raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(True, "deleted"), ("true", "deleted"), ("1", "deleted"), (False, "active"), (None, "active"), ("", "active")],
)
def test_carslink_delete_flag(raw, expected):
    assert decide_dms_status("carslink", raw) == expected


def test_carslink_unreadable_delete_flag():
    with pytest.raises(ParseError):
        decide_dms_status("carslink", "perhaps")


def test_unknown_dms_system():
    with pytest.raises(ValueError, match="unknown DMS system"):
        decide_dms_status("autotrader", "x")  # type: ignore[arg-type]
