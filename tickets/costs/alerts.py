"""Budget alerts (001 "BUDGET"): Managers are told, in the app and by email (their preference), when the
time logged on a budget's tickets reaches 80 % and 100 % of it, and when the pace so far predicts an
overrun at the end of the period.

Contract: once per budget and kind. The guard is the unique (budget, kind) row of ``crm.BudgetAlert``,
written with ``INSERT ... ON CONFLICT DO NOTHING`` in the transaction of the time entry that crossed the
line: of two concurrent entries, one inserts and notifies, the other waits on the index and does nothing.
The notification rows are written by ``lumiodesk.notifications.notify`` (its emails leave after commit).
"""

from __future__ import annotations

from datetime import date

from django.db import connection
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.models import Budget, BudgetAlert, BudgetAlertKind
from crm.notification_kinds import CrmNotificationKind
from lumiodesk.notifications import Draft, agents_of, notify

from ..models import Ticket
from .selectors import BudgetStatus, budget_statuses, budgets_covering

_CLAIM = f"""
INSERT INTO {BudgetAlert._meta.db_table} (organization_id, budget_id, kind, actual, created_at)
VALUES (%s, %s, %s, %s, now())
ON CONFLICT (budget_id, kind) DO NOTHING
RETURNING id
"""


def kinds_due(status: BudgetStatus) -> list[str]:
    p = status.pace
    due = []
    if p.percent >= 80:
        due.append(BudgetAlertKind.REACHED_80)
    if p.percent >= 100:
        due.append(BudgetAlertKind.REACHED_100)
    elif p.forecast > p.amount and p.elapsed_days < p.total_days:
        due.append(BudgetAlertKind.PACE)
    return due


def _claim(budget: Budget, kind: str, actual) -> bool:
    with connection.cursor() as cur:
        cur.execute(_CLAIM, [budget.organization_id, budget.pk, kind, actual])
        return cur.fetchone() is not None


def check_ticket(ticket: Ticket, day: date, *, today: date | None = None) -> int:
    """After time was logged on ``ticket`` on ``day``: alert on the budgets it counts in. Returns the
    number of alerts raised now."""
    customer = ticket.customer
    budgets = budgets_covering(organization_id=ticket.organization_id, customer_id=customer.pk,
                               company_id=customer.company_id, day=day)
    raised = 0
    for status in budget_statuses(budgets, today or timezone.localdate()):
        for kind in kinds_due(status):
            if _claim(status.budget, kind, status.pace.actual):
                _notify(ticket.organization, status, kind)
                raised += 1
    return raised


def _notify(organization, status: BudgetStatus, kind: str) -> None:
    budget, p = status.budget, status.pace
    owner = budget.company.name if budget.company_id else budget.customer.display_name
    url = (reverse("customers:company", args=[budget.company_id]) if budget.company_id
           else reverse("customers:detail", args=[budget.customer_id]))
    with translation.override(organization.language):
        if kind == BudgetAlertKind.PACE:
            title = _("Budget de %(owner)s : dépassement prévu (%(p)s %% au rythme actuel)") % {
                "owner": owner, "p": p.forecast_percent}
        else:
            title = _("Budget de %(owner)s : %(p)s %% atteints") % {"owner": owner, "p": kind}
        body = _("%(actual)s EUR consommés sur %(amount)s EUR (%(period)s du %(start)s) ; prévision en fin de "
                 "période : %(forecast)s EUR.") % {
                     "actual": p.actual, "amount": p.amount, "period": budget.get_period_display(),
                     "start": budget.start.strftime("%d/%m/%Y"), "forecast": p.forecast}
        notify(organization_id=organization.pk, kind=CrmNotificationKind.BUDGET_ALERT, drafts=[
            Draft(recipient_id=uid, title=title, body=body, url=url, dedup_key=f"budget:{budget.pk}:{kind}")
            for uid in agents_of(organization.pk, capability="budgets.manage")
        ])
