"""Budget alerts are claimed once, even by two transactions at the same time (a real race on PostgreSQL)."""

import threading
import time
from datetime import date

import pytest
from django.db import connection, transaction
from factories import SYSTEM

from crm import budgets
from crm.models import BudgetAlert
from tickets.costs import alerts


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_claims_raise_one_alert(world):
    budget = budgets.save_budget(actor=SYSTEM, organization=world.org, period="year", day=date(2025, 1, 1),
                                 amount="10", customer=world.customer)
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def claim():
        try:
            with transaction.atomic():
                barrier.wait(timeout=10)  # both start together: one inserts, the other waits on the index
                results.append(alerts._claim(budget, "100", 12))
                time.sleep(0.5)  # commit late: the other claim is made while this row is uncommitted
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert BudgetAlert.objects.filter(budget=budget, kind="100").count() == 1
    assert sorted(results) == [False, True]
