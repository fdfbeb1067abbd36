"""Every URL × every role (and anonymous) × an object of another organization, against the permission table.

Each console view declares its capability (``@requires("rules.manage")`` in ``lumiodesk.access``), or is
``@public`` (help center, widget, portal, contact form) or ``@signed_in`` (any signed-in user); Django's
own views are listed in ``THIRD_PARTY``. A new URL without a declaration fails
``test_every_url_declares_its_access``.

To extend (a new screen, an API endpoint): declare the view, and if its URL takes arguments add a line to
``URL_ARGS`` saying which object of the world fills them. ``test_every_url_answers_as_the_table_says``
then checks, with one world built once and GET requests (a POST-only view answers the method, or 403):
anonymous → login; a role without the capability → 403; with it → not 403 (and 404 for the other
organization's object).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from factories import SYSTEM, TicketFactory, acting, member, team_of, upload
from helpers import assert_partial, htmx

from automations import services as automation_services
from billing import invoices, refunds, subscriptions
from crm import budgets
from crm.models import Company
from kb import services as kb_services
from lumiodesk.exceptions import NotPermitted
from lumiodesk.models import AgentNotification, Invitation, Membership, Organization, Plan, Role
from lumiodesk.permissions import CAPABILITIES, MemberActor, SystemActor, require, role_can
from sla import reports
from sla import services as sla_services
from sla.dashboard import reports as dashboard_reports
from sla.dashboard.figures import DashboardFilters
from tickets import services as ticket_services
from tickets.agent_notifications import TicketNotificationKind
from tickets.api import keys as api_keys
from tickets.costs import services as cost_services
from tickets.email import mailboxes
from tickets.email.models import InboundEmail
from tickets.exports import services as exports
from tickets.imports import services as imports
from tickets.selectors import TicketFilters

# Django's own views: open by design (the admin checks staff itself).
THIRD_PARTY = {"login", "logout", "set_language", "<root>"}
THIRD_PARTY_NAMESPACES = {"admin"}

# url name -> the URL's arguments, from one organization's objects (``Objects`` below).
URL_ARGS = {
    "unlock_member": lambda o: {"user_id": o.notification.recipient_id},  # a member of that organization
    "tickets:detail": lambda o: {"number": o.ticket.number},
    "tickets:reply": lambda o: {"number": o.ticket.number},
    "tickets:status": lambda o: {"number": o.ticket.number},
    "tickets:priority": lambda o: {"number": o.ticket.number},
    "tickets:assign": lambda o: {"number": o.ticket.number},
    "tickets:tags": lambda o: {"number": o.ticket.number},
    "tickets:template": lambda o: {"number": o.ticket.number},
    "tickets:attachment": lambda o: {"number": o.ticket.number, "token": o.attachment.token},
    "tickets:delete": lambda o: {"number": o.ticket.number},
    "tickets:view_delete": lambda o: {"pk": o.view.pk},
    "tickets:template_edit": lambda o: {"pk": o.template.pk},
    "tickets:template_delete": lambda o: {"pk": o.template.pk},
    "automations:rule_edit": lambda o: {"pk": o.rule.pk},
    "automations:rule_toggle": lambda o: {"pk": o.rule.pk},
    "automations:rule_move": lambda o: {"pk": o.rule.pk},
    "automations:rule_delete": lambda o: {"pk": o.rule.pk},
    "automations:webhook_detail": lambda o: {"pk": o.endpoint.pk},
    "automations:webhook_deliveries": lambda o: {"pk": o.endpoint.pk},
    "automations:webhook_test": lambda o: {"pk": o.endpoint.pk},
    "automations:webhook_toggle": lambda o: {"pk": o.endpoint.pk},
    "automations:webhook_rotate": lambda o: {"pk": o.endpoint.pk},
    "automations:webhook_delete": lambda o: {"pk": o.endpoint.pk},
    "automations:ticket_journal": lambda o: {"number": o.ticket.number},
    "sla:holiday_delete": lambda o: {"pk": o.holiday.pk},
    "sla:report": lambda o: {"pk": o.report.pk},
    "sla:dashboard_pdf": lambda o: {"pk": o.dashboard_report.pk},
    "tickets:spam": lambda o: {"number": o.ticket.number},
    "tickets:unspam": lambda o: {"number": o.ticket.number},
    "email:mailbox_edit": lambda o: {"pk": o.mailbox.pk},
    "email:mailbox_pause": lambda o: {"pk": o.mailbox.pk},
    "email:mailbox_verify": lambda o: {"pk": o.mailbox.pk},
    "email:inbound_raw": lambda o: {"pk": o.inbound.pk},
    "email:inbound_retry": lambda o: {"pk": o.inbound.pk},
    "chat:ticket_live": lambda o: {"number": o.ticket.number},
    "kb:detail": lambda o: {"pk": o.article.pk},
    "kb:edit": lambda o: {"pk": o.article.pk},
    "kb:status": lambda o: {"pk": o.article.pk},
    "kb:revision": lambda o: {"pk": o.article.pk, "number": 1},
    "kb:collection_edit": lambda o: {"pk": o.collection.pk},
    "kb:ticket_link": lambda o: {"number": o.ticket.number, "pk": o.article.pk},
    "kb:ticket_insert": lambda o: {"number": o.ticket.number, "pk": o.article.pk},
    "notifications:open": lambda o: {"pk": o.notification.pk},
    "imports:detail": lambda o: {"pk": o.import_run.pk},
    "imports:progress": lambda o: {"pk": o.import_run.pk},
    "imports:undo": lambda o: {"pk": o.import_run.pk},
    "exports:download": lambda o: {"pk": o.export.pk},
    "api_settings:revoke": lambda o: {"pk": o.api_key.pk},
    "billing:invoice_pdf": lambda o: {"pk": o.invoice.pk},
    "billing:invoice_paid": lambda o: {"pk": o.invoice.pk},
    "billing:refund_decide": lambda o: {"pk": o.refund.pk},
    "tickets:refunds": lambda o: {"number": o.ticket.number},
    "tickets:refund_request": lambda o: {"number": o.ticket.number},
    "member_role": lambda o: {"pk": o.membership.pk},
    "member_deactivate": lambda o: {"pk": o.membership.pk},
    "member_reactivate": lambda o: {"pk": o.membership.pk},
    "invitation_resend": lambda o: {"pk": o.invitation.pk},
    "invitation_revoke": lambda o: {"pk": o.invitation.pk},
    "team_edit": lambda o: {"pk": o.team.pk},
    "team_members": lambda o: {"pk": o.team.pk},
    "team_delete": lambda o: {"pk": o.team.pk},
    "customers:detail": lambda o: {"pk": o.ticket.customer_id},
    "customers:edit": lambda o: {"pk": o.ticket.customer_id},
    "customers:merge": lambda o: {"pk": o.ticket.customer_id},
    "customers:company": lambda o: {"pk": o.company.pk},
    "customers:company_edit": lambda o: {"pk": o.company.pk},
    "costs:ticket_time": lambda o: {"number": o.ticket.number},
    "costs:log": lambda o: {"number": o.ticket.number},
    "costs:timer": lambda o: {"number": o.ticket.number},
    "costs:entry_edit": lambda o: {"pk": o.time_entry.pk},
    "costs:entry_delete": lambda o: {"pk": o.time_entry.pk},
    "costs:budget_delete": lambda o: {"pk": o.budget.pk},
}


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name"
    view: object
    arg_names: tuple[str, ...]

    @property
    def capability(self) -> str | None:
        return getattr(self.view, "capability", None)

    @property
    def post_capability(self) -> str | None:
        return getattr(self.view, "post_capability", None)

    @property
    def public(self) -> bool:
        return getattr(self.view, "public", False)

    @property
    def signed_in(self) -> bool:
        return getattr(self.view, "signed_in", False)

    @property
    def api_key(self) -> bool:
        """A REST API endpoint (tickets.api): authenticated by an API key, whose role must have the capability
        the view declares per method (tests/tickets/api/ check roles, plans and other organizations)."""
        return getattr(self.view, "api_key", False)


def all_routes(patterns=None, namespace: str = "", args: tuple[str, ...] = ()) -> list[Route]:
    """Every URL pattern of the project, recursively (includes, namespaces, their arguments)."""
    routes = []
    for p in get_resolver().url_patterns if patterns is None else patterns:
        here = args + tuple(getattr(p.pattern, "converters", {}))
        if isinstance(p, URLResolver):
            routes += all_routes(p.url_patterns, ":".join(x for x in (namespace, p.namespace) if x), here)
        elif isinstance(p, URLPattern):
            routes.append(Route(":".join(x for x in (namespace, p.name or "<root>") if x), p.callback, here))
    return routes


def _third_party(route: Route) -> bool:
    return route.name in THIRD_PARTY or route.name.split(":")[0] in THIRD_PARTY_NAMESPACES


def test_every_url_declares_its_access():
    undeclared, unknown, missing_args = [], [], []
    for route in all_routes():
        if _third_party(route):
            continue
        declared = [route.capability is not None, route.public, route.signed_in, route.api_key]
        if sum(declared) != 1 or (route.api_key and not getattr(route.view, "api_capabilities", None)):
            undeclared.append(route.name)
        for cap in (route.capability, route.post_capability, *getattr(route.view, "api_capabilities", {}).values()):
            if cap is not None and cap not in CAPABILITIES:
                unknown.append(f"{route.name}: {cap}")
        if (route.capability or route.signed_in) and route.arg_names and route.name not in URL_ARGS:
            missing_args.append(route.name)
    assert not undeclared, f"declare @requires(capability), @public, @signed_in or API capabilities on: {undeclared}"
    assert not unknown, f"capabilities missing from lumiodesk.permissions.CAPABILITIES: {unknown}"
    assert not missing_args, f"add these URLs to URL_ARGS in this file: {missing_args}"


def test_the_table_names_every_role():
    for capability, roles in CAPABILITIES.items():
        assert roles <= set(Role.values), capability
    assert CAPABILITIES["tickets.view"] == frozenset(Role.values)  # every member reads tickets


# --- the world: two organizations with one object of each kind --------------------------------------------


@dataclass
class Objects:
    ticket: object
    attachment: object
    view: object
    template: object
    rule: object
    endpoint: object
    holiday: object
    report: object
    mailbox: object
    inbound: object
    article: object
    collection: object
    notification: object
    import_run: object
    export: object
    invoice: object
    refund: object
    membership: object
    invitation: object
    api_key: object
    company: object
    time_entry: object
    budget: object
    dashboard_report: object
    team: object


def _objects(org: Organization, slug: str, recipient) -> Objects:
    if slug != "acme":  # its ticket numbers differ from ours: #2 here is no ticket of ours
        TicketFactory(organization=org)
    ticket = TicketFactory(organization=org, attachments=[upload("a.txt", b"a")])
    ticket_services.set_tags(ticket=ticket, names=["x"], actor=SYSTEM)
    mailbox = mailboxes.create_mailbox(organization=org, name="Support", address=f"support@{slug}.test", actor=SYSTEM)
    article = kb_services.create_article(actor=SYSTEM, organization=org, title="Mot de passe", body="Texte.")
    company = Company.objects.create(organization=org, name=f"Entreprise {slug}")
    return Objects(
        ticket=ticket,
        attachment=ticket.first_message.attachments.get(),
        view=ticket_services.save_view(organization=org, name="Vue", filters={"status": "open"}, actor=SYSTEM),
        template=ticket_services.save_reply_template(organization=org, name="Merci", body="Merci.", actor=SYSTEM),
        rule=automation_services.create_rule(organization=org, actor=SYSTEM, name="Règle", conditions=[],
                                             actions=[{"type": "add_tag", "tag": "y"}]),
        endpoint=automation_services.create_endpoint(organization=org, actor=SYSTEM, url="https://hooks.example/x",
                                                     events=["ticket.created"])[0],
        holiday=sla_services.add_holiday(organization=org, day=date(2025, 12, 25), name="Noël", actor=SYSTEM),
        report=reports.generate_report(organization=org, start=date(2025, 3, 10), end=date(2025, 3, 16),
                                       granularity="week", actor=SYSTEM),
        mailbox=mailbox,
        inbound=InboundEmail.objects.create(organization=org, mailbox=mailbox, source="file", raw=b"Subject: x\n\nx",
                                            size=14, digest="0" * 64, message_key=f"<x@{slug}>"),
        article=article,
        collection=kb_services.save_collection(actor=SYSTEM, organization=org, name="Compte"),
        notification=AgentNotification.objects.create(organization=org, recipient=recipient,
                                                      kind=TicketNotificationKind.MENTION, title="x", dedup_key=slug),
        import_run=imports.start_import(organization=org, actor=SYSTEM, kind="customers", filename="c.csv",
                                        data=b"email\nx@example.com\n"),
        export=exports.build(exports.start_tickets_export(organization=org, actor=SYSTEM,
                                                          filters=TicketFilters()).pk),
        invoice=_invoice(org),
        refund=refunds.request_refund(actor=acting(recipient, org), ticket=ticket, amount="45", reason="Geste"),
        membership=Membership.objects.get(organization=org, user=recipient),
        invitation=Invitation.objects.create(organization=org, email=f"new@{slug}.test", token_hash=slug * 8,
                                             expires_at=timezone.now() + timedelta(days=7)),
        api_key=api_keys.create_key(actor=SYSTEM, organization=org, name="Intégration", role=Role.AGENT).key,
        company=company,
        time_entry=cost_services.log_time(actor=SYSTEM, ticket=ticket, minutes=30, user=recipient),
        budget=budgets.save_budget(actor=SYSTEM, organization=org, period="month", day=date.today(), amount="100",
                                   company=company),
        dashboard_report=dashboard_reports.generate_report(
            organization=org, filters=DashboardFilters(start=date(2025, 3, 10), end=date(2025, 3, 16)), actor=SYSTEM),
        team=team_of(org, f"Équipe {slug}", recipient),
    )


def _invoice(org: Organization):
    subscriptions.choose_plan(actor=SYSTEM, organization=org, plan=Plan.SCALE, keep_extra_agents=True)
    return invoices.issue_invoice(org, period=date(2099, 1, 1))


ROLES = (Role.ADMIN, Role.MANAGER, Role.AGENT, Role.VIEWER)


@pytest.mark.django_db
def test_every_url_answers_as_the_table_says(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    org = Organization.objects.create(name="Acme", slug="acme", plan=Plan.SCALE)
    other = Organization.objects.create(name="Globex", slug="globex", plan=Plan.SCALE)
    people = {role: member(org, role, email=f"{role}@acme.test") for role in ROLES}
    outsider = member(other, Role.ADMIN, email="admin@globex.test")
    ours, theirs = _objects(org, "acme", people[Role.ADMIN]), _objects(other, "globex", outsider)
    org.logo.save("acme.png", ContentFile(b"\x89PNG\r\n\x1a\n" + b"0" * 16))  # Settings > Organization's logo

    wrong: list[str] = []

    def check(who: str, route: Route, url: str, got: int, expected: str) -> None:
        ok = {"login": got == 302, "403": got == 403, "404": got == 404, "allowed": got not in (403, 404, 500)}
        if not ok[expected]:
            wrong.append(f"{who:>9} {route.name:<32} {url:<55} got {got}, expected {expected}")

    routes = [r for r in all_routes() if (r.capability or r.signed_in) and not _third_party(r)]
    urls = {}
    for route in routes:
        args = URL_ARGS.get(route.name)
        urls[route.name] = (reverse(route.name, kwargs=args(ours) if args else None),
                            reverse(route.name, kwargs=args(theirs)) if args else None)
    # One sign-in per role (not per route and role): the answers depend on the role, not on the session's age.
    client.logout()
    for route in routes:
        own_url = urls[route.name][0]
        check("anonymous", route, own_url, client.get(own_url).status_code, "login")
    # A PDF (WeasyPrint: about half a second each) is rendered once per URL, for the first role allowed to read
    # it. The next roles ask with OPTIONS, answered after @requires has let them through or not, before any
    # rendering (405 from @require_GET for a role that may read it, 403 for the others): their access is still
    # checked against the table, the same document is not made again.
    rendered_pdfs: set[str] = set()
    for role in ROLES:
        client.force_login(people[role])
        for route in routes:
            own_url, foreign_url = urls[route.name]
            allowed = route.signed_in or role_can(role, route.capability)
            if own_url in rendered_pdfs:
                check(role, route, f"{own_url} OPTIONS", client.options(own_url).status_code,
                      "allowed" if allowed else "403")
                if foreign_url:
                    check(role, route, foreign_url, client.get(foreign_url).status_code, "404" if allowed else "403")
                continue
            # A POST-only view answers 405 to whoever may use it (not a 403), 403 to the others.
            response = client.get(own_url)
            if response.status_code == 200 and response["Content-Type"] == "application/pdf":
                rendered_pdfs.add(own_url)
            if route.name != "notifications:open" or role == Role.ADMIN:  # only its recipient opens it
                check(role, route, own_url, response.status_code, "allowed" if allowed else "403")
            if response.status_code == 200 and route.post_capability:  # e.g. reports: Viewers read, not generate
                check(role, route, f"{own_url} POST", client.post(own_url, {}).status_code,
                      "allowed" if role_can(role, route.post_capability) else "403")
            if foreign_url:
                # Another organization's object: 404 for whoever may use the URL (nothing is found to
                # change, so POST is safe), 403 for the others.
                method = client.post if response.status_code == 405 else client.get
                check(role, route, foreign_url, method(foreign_url).status_code, "404" if allowed else "403")
    assert not wrong, "answers that differ from lumiodesk.permissions.CAPABILITIES:\n" + "\n".join(wrong)
    assert len(rendered_pdfs) >= 3, rendered_pdfs  # the dashboard report, the cost dashboard, the invoice


# --- the actor and require --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_require_refuses_a_missing_actor_a_user_and_another_organizations_member(world):
    for nobody in (None, world.agent):  # no actor, or a bare user instead of an actor: refused, never allowed
        with pytest.raises(NotPermitted):
            require(nobody, "tickets.reply", world.org)
    with pytest.raises(NotPermitted):
        require(acting(world.outsider), "tickets.reply", world.org)  # a member acts in their organization only
    with pytest.raises(NotPermitted):
        require(acting(world.viewer), "tickets.reply", world.org)
    require(acting(world.agent), "tickets.reply", world.org)
    require(SystemActor("email intake"), "tickets.create", world.org)
    with pytest.raises(KeyError):
        SystemActor("test").can("tickets.fly")  # a typo is a bug, even for the system
    assert MemberActor.of(world.org, world.manager).can("rules.manage")
    with pytest.raises(NotPermitted):
        MemberActor.of(world.org, world.outsider)


@pytest.mark.django_db
def test_a_service_refusal_is_a_403_flash_for_htmx_and_the_403_page_otherwise(client, world):
    client.force_login(world.viewer)
    url = reverse("tickets:reply", args=[world.ticket.number])
    response = client.post(url, {"kind": "reply", "body": "Bonjour"}, **htmx())
    assert response.status_code == 403
    assert response["HX-Retarget"] == "#flash"
    assert "Votre rôle ne permet pas cette action." in assert_partial(response)
    assert client.post(url, {"kind": "reply", "body": "Bonjour"}).status_code == 403


@pytest.mark.django_db
def test_templates_read_the_table_through_can(client, world):
    client.force_login(world.agent)
    html = client.get(reverse("tickets:list")).content.decode()
    assert reverse("sla:settings") not in html and reverse("sla:reports") not in html  # no menu an Agent can't use
    client.force_login(world.viewer)
    html = client.get(reverse("tickets:list")).content.decode()
    assert reverse("sla:reports") in html and reverse("sla:settings") not in html  # Viewers read reports
    client.force_login(world.admin)
    html = client.get(reverse("tickets:list")).content.decode()
    assert reverse("email:mailboxes") in html and reverse("chat:settings") in html
    client.force_login(world.manager)
    html = client.get(reverse("tickets:list")).content.decode()
    assert reverse("automations:rules") in html and reverse("email:mailboxes") not in html
