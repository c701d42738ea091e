"""What a user owes after login (PRODUCT §3 expiry, §7): a forced or expired password."""

from __future__ import annotations

from camauth.services.required_actions import Action, next_action

from .conftest import add_user, with_settings


def test_nothing_owed_by_default_however_old_the_password(ctx, clock):
    user = add_user(ctx)
    clock.advance(days=3650)
    assert next_action(ctx.settings, clock, user) is None


def test_forced_change_is_owed(ctx, clock):
    user = add_user(ctx, must_change_password=True)
    assert next_action(ctx.settings, clock, user) is Action.CHANGE_PASSWORD


def test_password_older_than_max_age_must_be_changed(ctx, clock):
    ctx = with_settings(ctx, password_max_age_days=90)
    user = add_user(ctx)
    clock.advance(days=89, hours=23)
    assert next_action(ctx.settings, clock, user) is None
    clock.advance(hours=1)
    assert next_action(ctx.settings, clock, user) is Action.CHANGE_PASSWORD
