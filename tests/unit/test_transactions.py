"""What the lazy transaction tween relies on in the ``transaction`` package."""

from __future__ import annotations

import transaction

from camauth.web.transactions import in_transaction


def test_in_transaction_sees_a_transaction_without_making_one():
    manager = transaction.manager
    manager.abort()  # whatever an earlier test left
    assert not in_transaction(manager)
    assert not in_transaction(manager)  # asking made none
    manager.get()  # begins one implicitly, as zope.sqlalchemy's join does
    assert in_transaction(manager)
    manager.commit()
    assert not in_transaction(manager)
    manager.begin()
    manager.doom()
    assert in_transaction(manager)
    manager.abort()
    assert not in_transaction(manager)
