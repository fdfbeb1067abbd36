/* LumioDesk chat widget — install with:
   <script src="https://YOUR-LUMIODESK/widget.js" data-workspace="WORKSPACE_ID"></script>
   The widget lives in an iframe served by LumioDesk, so the page's styles never reach it. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.LumioDeskWidget) return;
  var workspace = script.getAttribute("data-workspace");
  var base = new URL(script.src, location.href).origin;
  window.LumioDeskWidget = { version: 1 };
  if (!workspace) {
    console.error("LumioDesk: attribut data-workspace absent de la balise <script> du widget " +
      "(copiez le code depuis Paramètres > Canaux > Chat).");
    return;
  }

  // The visitor's conversation token is kept in this page's storage (first party), where a reload finds
  // it even when the browser blocks the frame's own storage; whether the widget was open, per tab.
  var KEY = "lumiodesk:" + workspace;
  function load() {
    try {
      var kept = JSON.parse(localStorage.getItem(KEY) || "{}");
      kept.open = sessionStorage.getItem(KEY + ":open") === "1" ? 1 : null;
      return kept;
    } catch (e) { return {}; }
  }
  function keep(state) {
    try {
      localStorage.setItem(KEY, JSON.stringify({ token: state.token || null, visitor: state.visitor || null }));
      if (state.open) sessionStorage.setItem(KEY + ":open", "1"); else sessionStorage.removeItem(KEY + ":open");
    } catch (e) { /* storage refused: the conversation lasts as long as the page */ }
  }

  function mount(config) {
    var frame = document.createElement("iframe");
    var phone = window.matchMedia("(max-width: 480px)");
    frame.src = config.frame_url;
    frame.title = config.title;
    frame.setAttribute("allow", "clipboard-write");
    frame.style.cssText = "position:fixed;z-index:2147483000;border:0;background:transparent;color-scheme:light;" +
      "right:16px;bottom:16px;width:64px;height:64px;border-radius:32px;box-shadow:0 6px 20px rgba(16,24,40,.22);" +
      "transition:width .15s ease,height .15s ease;overflow:hidden;display:block;";
    var open = false;
    function layout() {
      var s = frame.style;
      if (!open) {
        s.right = "16px"; s.bottom = "16px"; s.width = "64px"; s.height = "64px"; s.borderRadius = "32px";
      } else if (phone.matches) {
        s.right = "0"; s.bottom = "0"; s.width = "100%"; s.height = "100%"; s.borderRadius = "0";
      } else {
        s.right = "16px"; s.bottom = "16px"; s.width = "380px";
        s.height = Math.min(620, window.innerHeight - 32) + "px"; s.borderRadius = "14px";
      }
    }
    window.addEventListener("message", function (event) {
      if (event.origin !== base || event.source !== frame.contentWindow) return;
      var data = event.data || {};
      if (data.lumiodesk === "state") { open = !!data.open; layout(); }
      else if (data.lumiodesk === "ready") { frame.contentWindow.postMessage({ lumiodesk: "init", state: load() }, base); }
      else if (data.lumiodesk === "store") { keep(data.state || {}); }
    });
    window.addEventListener("resize", layout);
    document.body.appendChild(frame);
  }

  function start() {
    fetch(base + "/widget/" + encodeURIComponent(workspace) + "/config", { mode: "cors", credentials: "omit" })
      .then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      })
      .then(function (result) {
        if (!result.ok) { console.error("LumioDesk: " + (result.data.error || "widget refusé")); return; }
        mount(result.data);
      })
      .catch(function (error) {
        console.error("LumioDesk: impossible de joindre " + base + " (" + error + "). Vérifiez l'adresse du " +
          "script et qu'aucun bloqueur de contenu ne l'arrête.");
      });
  }
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
