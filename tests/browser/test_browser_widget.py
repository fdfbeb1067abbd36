"""The chat widget in a real browser: a shop page on another origin embeds it, a visitor gets article
suggestions, chats live with an agent working in the console, reloads the page; offline mode; a page on
an origin the widget does not allow is refused."""

from __future__ import annotations

import http.server
import threading
import time

import pytest
from chat_helpers import agent_here, make_widget, nobody_here, open_all_week
from conftest import browser_login
from kb_helpers import make_kb
from playwright.sync_api import expect

from tickets.chat.models import ChatConversation, ConversationMode
from tickets.models import Channel, MessageKind, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOP_PAGE = """<!doctype html><html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Boutique Acme</title>
<style>body{{font-family:Georgia,serif;margin:0;background:#fdf6ec;color:#3d2b1f}}
header{{background:#7c2d12;color:#fff;padding:1.2rem 2rem}}
main{{padding:2rem;max-width:800px}} button{{all:unset}} iframe{{border:5px dashed red}}</style></head>
<body><header><h1>Boutique Acme</h1></header><main><h2>Nos tisanes</h2>
<p>Une page d'un site client, avec ses propres styles (qui ne doivent pas toucher le widget).</p></main>
<script src="{server}/widget.js" data-workspace="{workspace}"></script></body></html>"""


class _ShopHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = self.server.page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def shop():
    """A customer's website: another origin than LumioDesk's live server (loopback only)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ShopHandler)
    server.page = ""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _frame(page):
    return page.frame_locator("iframe[title^='Chat avec']")


def _open(page):
    """Click the launcher and wait until the frame has finished growing: a click during the size
    transition can land where the button was a moment before, and the form is never submitted."""
    _frame(page).locator("#launcher").click()
    page.wait_for_function(
        """() => {
            const f = document.querySelector("iframe[title^='Chat avec']");
            return f && f.getBoundingClientRect().width > 64 && f.getAnimations().length === 0;
        }""")
    return _frame(page)


def _shop_url(shop, host="127.0.0.1"):
    return f"http://{host}:{shop.server_address[1]}/"


def test_visitor_chats_live_with_an_agent(live_server, browser, page, world, shop, screenshot):
    widget = make_widget(world.org, world.admin, domains=["127.0.0.1"])
    open_all_week(world.org)
    make_kb(world.org, world.manager)
    shop.page = SHOP_PAGE.format(server=live_server.url, workspace=widget.workspace_id)

    # The agent has the console open: the chat inbox (its polls are the agent's presence).
    agent_context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 800})
    agent_context.set_default_timeout(10_000)
    agent = agent_context.new_page()
    browser_login(agent, live_server.url, world.agent.email)
    agent.goto(f"{live_server.url}/chat/")
    agent.get_by_text("Aucun visiteur n'attend de réponse.").wait_for()

    # The visitor opens the shop page: the launcher, then the widget.
    page.goto(_shop_url(shop))
    frame = _open(page)
    frame.get_by_text("En ligne").wait_for()
    screenshot(page, "widget-open")

    # Suggestions while typing: the published article only.
    frame.locator("#message").press_sequentially("Quel est le tarif", delay=20)
    frame.locator("#suggestions a").first.wait_for()
    titles = frame.locator("#suggestions a").all_inner_texts()
    assert titles == ["Tarif Zephyrin"]
    assert frame.locator("#suggestions a").first.get_attribute("href").endswith("/help/acme/a/tarif-zephyrin/")
    screenshot(page, "widget-suggestions")

    frame.locator("#message").fill("Bonjour, je n'arrive pas à télécharger ma facture de mars.")
    frame.locator("#name").fill("Vera Visiteur")
    frame.locator("#email").fill("vera@example.com")
    frame.locator("#start-button").click()
    frame.get_by_text("Un membre de l'équipe va vous répondre ici").wait_for()
    conversation = ChatConversation.objects.select_related("ticket").get()
    assert conversation.mode == ConversationMode.LIVE and conversation.ticket.channel == Channel.CHAT

    # The agent sees it in the chat inbox (HTMX poll), answers from the ticket page's normal reply box.
    agent.get_by_text("Vera Visiteur").wait_for()
    agent.get_by_text("1 chat en attente de réponse").wait_for()
    screenshot(agent, "console-chat-inbox")
    agent.get_by_role("link", name="Répondre").click()
    agent.wait_for_url(f"**/tickets/{conversation.ticket.number}/")
    agent.locator("#reply-body").fill("Bonjour Vera, je regarde tout de suite votre facture.")
    agent.get_by_role("button", name="Envoyer").click()

    sent_at = time.monotonic()
    frame.get_by_text("Bonjour Vera, je regarde tout de suite votre facture.").wait_for(timeout=5_000)
    reply_delay = time.monotonic() - sent_at
    assert reply_delay < 3.5, reply_delay  # polled every 1.5 s

    # The visitor answers; the agent's ticket page shows it without a reload.
    frame.locator("#body").fill("Merci beaucoup !")
    frame.locator("#body").press("Enter")
    frame.locator(".msg.visitor", has_text="Merci beaucoup !").wait_for()
    agent.locator("#timeline").get_by_text("Merci beaucoup !").wait_for(timeout=5_000)
    screenshot(page, "widget-chat")
    screenshot(agent, "console-chat-ticket")

    # A reload keeps the conversation (and the widget open).
    page.reload()
    frame = _frame(page)
    frame.locator(".msg.agent", has_text="je regarde tout de suite").wait_for()
    assert frame.locator(".msg").count() == 3

    # An internal note never reaches the widget.
    agent.get_by_label("Note interne").check()
    agent.locator("#reply-body").fill("Note : client fidèle, geste commercial possible.")
    agent.get_by_role("button", name="Envoyer").click()
    agent.locator(".msg.note").wait_for()  # saved
    _polls_after(page, 3)
    expect(frame.get_by_text("geste commercial")).to_have_count(0)
    agent_context.close()


def _polls_after(page, n: int) -> None:
    """Wait for the widget's next ``n`` polls (``GET conversation?after=``; every 1.5 s while open). Polls do
    not overlap: one is asked only once the previous answer is shown. So of 3 polls answered after a change,
    the 2nd was asked after it and its answer is on screen when the 3rd comes back."""
    for _ in range(n):
        with page.expect_response(
            lambda r: "/conversation?after=" in r.url and r.request.method == "GET", timeout=10_000
        ):
            pass


def test_widget_on_a_phone(live_server, browser, world, shop, screenshot):
    widget = make_widget(world.org, world.admin, domains=["127.0.0.1"])
    nobody_here(world.org)
    shop.page = SHOP_PAGE.format(server=live_server.url, workspace=widget.workspace_id)
    context = browser.new_context(locale="fr-FR", viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)
    phone = context.new_page()
    phone.goto(_shop_url(shop))
    screenshot(phone, "widget-phone-closed")
    _open(phone).locator("#message").wait_for()
    box = phone.locator("iframe[title^='Chat avec']").bounding_box()
    assert box["width"] == 390 and box["height"] == 844  # full screen on a phone
    screenshot(phone, "widget-phone-open")
    context.close()


def test_offline_visitor_leaves_a_message(live_server, page, world, shop, screenshot):
    widget = make_widget(world.org, world.admin, domains=["127.0.0.1"])
    open_all_week(world.org)
    nobody_here(world.org)  # open hours, but no agent with the console open
    shop.page = SHOP_PAGE.format(server=live_server.url, workspace=widget.workspace_id)
    page.goto(_shop_url(shop))
    frame = _open(page)
    frame.get_by_text("Hors ligne").first.wait_for()
    assert frame.locator("#start-button").inner_text() == "Envoyer le message"

    frame.locator("#message").fill("Pouvez-vous me rappeler demain ?")
    frame.locator("#email").fill("pas-un-email")
    frame.locator("#start-button").click()
    frame.locator("#start-error").wait_for()  # the browser's own check; nothing sent, nothing lost
    assert frame.locator("#message").input_value() == "Pouvez-vous me rappeler demain ?"
    assert not Ticket.objects.filter(channel=Channel.CHAT).exists()

    frame.locator("#email").fill("olga@example.com")
    frame.locator("#start-button").click()
    frame.get_by_text("nous vous répondrons par email au plus tard le").wait_for()
    screenshot(page, "widget-offline")
    ticket = Ticket.objects.get(channel=Channel.CHAT)
    assert ticket.customer.email == "olga@example.com"
    assert ticket.messages.get().kind == MessageKind.CUSTOMER
    assert ChatConversation.objects.get().mode == ConversationMode.OFFLINE


def test_a_page_on_another_origin_is_refused(live_server, page, world, shop):
    widget = make_widget(world.org, world.admin, domains=["127.0.0.1"])
    shop.page = SHOP_PAGE.format(server=live_server.url, workspace=widget.workspace_id)
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    foreign = _shop_url(shop, host="localhost")  # same server, but an origin the widget does not allow
    page.goto(foreign)
    deadline = time.monotonic() + 5
    while not any(e.startswith("LumioDesk:") for e in errors) and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    message = next(e for e in errors if e.startswith("LumioDesk:"))
    assert foreign.rstrip("/") in message and "Paramètres > Canaux > Chat" in message
    assert page.locator("iframe").count() == 0

    # Embedding the frame directly, pretending to be the allowed page, is blocked by frame-ancestors.
    frame_url = f"{live_server.url}/widget/{widget.workspace_id}/frame/?origin={_shop_url(shop).rstrip('/')}"
    page.set_content(f'<iframe id="direct" src="{frame_url}"></iframe>')
    # Wait for Chromium's own word that it refused the frame (not for a delay that may be too short).
    deadline = time.monotonic() + 10
    while not any("frame-ancestors" in e for e in errors) and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert any("frame-ancestors" in e for e in errors), errors
    child = page.frame_locator("#direct")
    assert child.locator("#launcher").count() == 0


def test_settings_page(live_server, page, world, screenshot):
    from chat_helpers import BUSINESS

    make_widget(world.org, world.admin, domains=["shop.acme.test", "localhost"], plan=BUSINESS)
    agent_here(world.org, world.agent)
    browser_login(page, live_server.url, world.admin.email)
    page.goto(f"{live_server.url}/settings/channels/chat/")
    page.get_by_text("Code d'installation").wait_for()
    snippet = page.locator("#widget-snippet").inner_text()
    assert snippet.startswith(f'<script src="{live_server.url}/widget.js" data-workspace="')
    screenshot(page, "settings-chat-business", full_page=True)

    world.org.plan = "starter"
    world.org.save(update_fields=["plan"])
    page.reload()
    page.get_by_text("disponible avec les forfaits Business et Scale").wait_for()
    screenshot(page, "settings-chat-starter", full_page=True)
