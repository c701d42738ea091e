from camauth.services import accounts

from ..conftest import GOOD_PASSWORD


def test_create_and_find_user(ctx):
    accounts.create_user(ctx, "Alice", password=GOOD_PASSWORD)
    ctx.db.commit()
    assert accounts.find_user(ctx, "ALICE").username == "Alice"
