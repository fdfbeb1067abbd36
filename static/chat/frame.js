/* LumioDesk chat widget — the frame (served by LumioDesk, shown in an iframe by /widget.js).
   No dependency. Strings come translated from the server (#widget-settings). */
(function () {
  "use strict";
  var S = JSON.parse(document.getElementById("widget-settings").textContent);
  var T = S.texts;
  var parentOrigin = (location.ancestorOrigins && location.ancestorOrigins.length) ? location.ancestorOrigins[0] : S.origin;
  var KEY = "lumiodesk:" + S.workspace + ":";
  var $ = function (id) { return document.getElementById(id); };

  // The visitor's token is kept by /widget.js in the *page's* storage (first party): browsers that block
  // or partition a third-party frame's storage would otherwise forget the conversation on reload. The
  // frame's own storage is a fallback when the page does not answer.
  var state = {};
  function ownStorage() {
    try { var s = window.localStorage; s.setItem(KEY + "t", "1"); s.removeItem(KEY + "t"); return s; } catch (e) { return null; }
  }
  var own = ownStorage();
  function save(changes) {
    for (var k in changes) { if (changes[k] === null) delete state[k]; else state[k] = changes[k]; }
    window.parent.postMessage({ lumiodesk: "store", state: state }, parentOrigin);
    if (own) own.setItem(KEY + "state", JSON.stringify(state));
  }
  var token = null, visitor = null;
  var isOpen = false, lastId = 0, seen = {}, pollTimer = null, polling = false, live = S.live;

  // --- talking to the page and to LumioDesk ------------------------------------------------------
  function tellPage(extra) {
    var msg = { lumiodesk: "state", open: isOpen };
    for (var k in extra || {}) msg[k] = extra[k];
    window.parent.postMessage(msg, parentOrigin);
  }
  function api(path, options) {
    options = options || {};
    var headers = { "X-Widget-Origin": parentOrigin };
    if (token) headers["X-Widget-Token"] = token;
    if (options.body) headers["Content-Type"] = "application/json";
    return fetch(S.api + path, {
      method: options.method || "GET", headers: headers, credentials: "omit",
      body: options.body ? JSON.stringify(options.body) : undefined
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) { return { status: r.status, ok: r.ok, data: data }; });
    });
  }

  // --- open / close --------------------------------------------------------------------------------
  function setOpen(open, focus) {
    isOpen = open;
    $("panel").hidden = !open;
    $("launcher").hidden = open;
    $("launcher").setAttribute("aria-expanded", String(open));
    save({ open: open ? 1 : null });
    if (open) {
      $("unread").hidden = true;
      if (!token) refreshStatus();
      if (focus) (token ? $("body") : $("message")).focus();
      scrollDown();
    }
    tellPage();
    schedulePoll(0);
  }
  $("launcher").addEventListener("click", function () { setOpen(true, true); });
  $("close").addEventListener("click", function () { setOpen(false); $("launcher").focus(); });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape" && isOpen) setOpen(false); });

  function refreshStatus() {
    api("").then(function (r) { if (r.ok) applyStatus(r.data.live, r.data.status_text); });
  }
  function applyStatus(isLive, text) {
    live = isLive;
    $("status").classList.toggle("live", isLive);
    $("status-text").textContent = text;
    var button = $("start-button");
    button.textContent = isLive ? button.dataset.live : button.dataset.offline;
  }

  // --- before contact: suggestions as the visitor types --------------------------------------------
  var suggestTimer = null, lastQuery = "";
  $("message").addEventListener("input", function () {
    clearTimeout(suggestTimer);
    suggestTimer = setTimeout(suggest, 300);
  });
  function suggest() {
    var q = $("message").value.trim().slice(0, 120);
    if (q === lastQuery) return;
    lastQuery = q;
    if (q.length < 3) { $("suggestions").hidden = true; return; }
    api("suggest?q=" + encodeURIComponent(q)).then(function (r) {
      if (!r.ok || q !== lastQuery) return;
      var list = $("suggestions").querySelector("ul");
      list.textContent = "";
      (r.data.articles || []).forEach(function (a) {
        var li = document.createElement("li"), link = document.createElement("a");
        link.href = a.url; link.target = "_blank"; link.rel = "noopener"; link.textContent = a.title;
        li.appendChild(link); list.appendChild(li);
      });
      $("suggestions").hidden = !list.children.length;
    });
  }

  // --- starting a conversation ----------------------------------------------------------------------
  function showError(id, text) { $(id).textContent = text || ""; $(id).hidden = !text; }
  $("start-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var message = $("message").value.trim(), email = $("email").value.trim();
    if (!message) { showError("start-error", $("message").placeholder); $("message").focus(); return; }
    if (!email || !$("email").checkValidity()) { showError("start-error", $("email").validationMessage || $("email").labels[0].textContent); $("email").focus(); return; }
    var button = $("start-button"), label = button.textContent;
    button.disabled = true; button.textContent = T.sending; showError("start-error", "");
    api("start", { method: "POST", body: { name: $("name").value, email: email, message: message, visitor: visitor } })
      .then(function (r) {
        if (!r.ok) { showError("start-error", r.data.error || T.network); return; }
        token = r.data.token; save({ token: token });
        $("start-form").reset(); $("suggestions").hidden = true; lastQuery = "";
        showChat(r.data);
        schedulePoll();
      }, function () { showError("start-error", T.network); })
      .then(function () { button.disabled = false; button.textContent = label; });
  });
  $("start-button").disabled = false;  // the form is handled from here on

  // --- the conversation ------------------------------------------------------------------------------
  function showChat(data) {
    $("view-start").hidden = true;
    $("view-chat").hidden = false;
    render(data);
    if (isOpen) $("body").focus();
  }
  function showStart() {
    token = null; save({ token: null }); lastId = 0; seen = {};
    $("messages").textContent = "";
    $("view-chat").hidden = true; $("view-start").hidden = false;
    $("new-conversation").hidden = true;
    refreshStatus();
  }
  $("new-conversation").addEventListener("click", function () { showStart(); $("message").focus(); });

  function render(data) {
    var list = $("messages"), added = 0, fromTeam = 0;
    (data.messages || []).forEach(function (m) {
      if (seen[m.id]) return;
      seen[m.id] = true; lastId = Math.max(lastId, m.id); added++;
      if (m.from === "agent") fromTeam++;
      var li = document.createElement("li"), meta = document.createElement("span"), text = document.createElement("div");
      li.className = "msg " + m.from;
      meta.className = "meta";
      meta.textContent = (m.from === "visitor" ? T.you : (m.author || T.team)) + " · " + m.time;
      text.className = "text"; text.textContent = m.text;
      li.appendChild(text); li.appendChild(meta); list.appendChild(li);
    });
    var c = data.conversation || {};
    $("notice").textContent = c.notice || "";
    if ($("notice").hidden !== !c.notice) added++;
    $("notice").hidden = !c.notice;
    $("new-conversation").hidden = !c.done;
    if (added) scrollDown();
    if (fromTeam && (!isOpen || document.hidden)) { $("unread").hidden = isOpen; tellPage({ unread: true }); }
  }
  function scrollDown() { var l = $("scroll"); l.scrollTop = l.scrollHeight; }

  $("body").addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("send-form").requestSubmit(); }
  });
  $("body").addEventListener("input", function () {
    this.style.height = "auto"; this.style.height = Math.min(this.scrollHeight, 120) + "px";
  });
  $("send-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var box = $("body"), body = box.value.trim();
    if (!body) return;
    var button = this.querySelector("button");
    button.disabled = true; showError("send-error", "");
    // The text stays in the box until LumioDesk has it: nothing the visitor wrote is lost.
    api("conversation", { method: "POST", body: { body: body, after: lastId } }).then(function (r) {
      if (r.status === 404 && r.data.gone) { showStart(); return; }
      if (!r.ok) { showError("send-error", r.data.error || T.network); return; }
      box.value = ""; box.style.height = "auto";
      render(r.data);
    }, function () { showError("send-error", T.network); }).then(function () { button.disabled = false; box.focus(); });
  });

  // Polling: every 1.5 s while the chat is open and visible, every 6 s otherwise (unread badge).
  function schedulePoll(delay) {
    clearTimeout(pollTimer);
    if (!token) return;
    if (delay === undefined) delay = (isOpen && !document.hidden) ? 1500 : 6000;
    pollTimer = setTimeout(poll, delay);
  }
  function poll() {
    if (!token || polling) return;
    polling = true;
    api("conversation?after=" + lastId).then(function (r) {
      if (r.status === 404 && r.data.gone) { showStart(); return; }
      if (r.ok) render(r.data);
    }, function () { /* offline for a moment: the next poll catches up */ })
      .then(function () { polling = false; schedulePoll(); });
  }
  document.addEventListener("visibilitychange", function () { if (!document.hidden) schedulePoll(0); });

  // --- start: a conversation kept from an earlier visit survives the reload ---------------------------
  var booted = false;
  function boot(stored) {
    if (booted) return;
    booted = true;
    state = stored || {};
    token = state.token || null;
    visitor = state.visitor;
    if (!visitor) {
      visitor = (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Math.random()).slice(2) + Date.now();
      save({ visitor: visitor });
    }
    if (token) {
      $("view-start").hidden = true; $("view-chat").hidden = false;
      api("conversation?after=0").then(function (r) {
        if (r.status === 404 && r.data.gone) { showStart(); return; }
        if (r.ok) render(r.data);
        schedulePoll();
      }, function () { schedulePoll(); });
    }
    if (state.open) setOpen(true, false); else tellPage();
  }
  window.addEventListener("message", function (event) {
    if (event.source !== window.parent || event.origin !== parentOrigin) return;
    if (event.data && event.data.lumiodesk === "init") boot(event.data.state);
  });
  window.parent.postMessage({ lumiodesk: "ready" }, parentOrigin);
  setTimeout(function () {
    var fallback = null;
    try { fallback = own && JSON.parse(own.getItem(KEY + "state") || "null"); } catch (e) { fallback = null; }
    boot(fallback);
  }, 1500);
})();
