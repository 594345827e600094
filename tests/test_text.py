import pytest

from app.text import fold


@pytest.mark.parametrize(
    ("typed", "folded"),
    [
        ("Sale-Pending ", "sale pending"),
        ("SALE_PENDING", "sale pending"),
        ("Ocasión", "ocasion"),
        ("Pre-owned", "pre owned"),
        ("Apple CarPlay / Android Auto", "apple carplay android auto"),
        ("For\u00a0Sale!", "for sale"),
        ("مستعمل", "مستعمل"),  # other scripts are kept, not dropped
        ("", ""),
    ],
)
def test_fold_makes_what_people_type_comparable(typed, folded):
    assert fold(typed) == folded
