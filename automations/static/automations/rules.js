/* Settings > Automations: reorder the rules by drag and drop (HTML5), then post the new order with HTMX.
   The up/down buttons of each rule do the same without JavaScript (and from the keyboard). */
(function () {
  "use strict";

  function order(list) {
    return Array.prototype.map.call(list.querySelectorAll("li.auto-rule"), function (li) { return li.dataset.id; });
  }

  function init() {
    var list = document.querySelector(".auto-rule-list");
    if (!list || list.dataset.dnd) return;
    list.dataset.dnd = "1";
    list.dataset.order = order(list).join(",");
    var dragged = null;

    list.addEventListener("dragstart", function (e) {
      var li = e.target.closest && e.target.closest("li.auto-rule");
      if (!li) return;
      dragged = li;
      li.classList.add("dragging");
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", li.dataset.id);
    });
    list.addEventListener("dragover", function (e) {
      if (!dragged) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "move";
      var li = e.target.closest && e.target.closest("li.auto-rule");
      if (!li || li === dragged) return;
      var box = li.getBoundingClientRect();
      list.insertBefore(dragged, e.clientY > box.top + box.height / 2 ? li.nextSibling : li);
    });
    list.addEventListener("drop", function (e) { if (dragged) e.preventDefault(); });
    list.addEventListener("dragend", function () {
      if (!dragged) return;
      dragged.classList.remove("dragging");
      dragged = null;
      var ids = order(list).join(",");
      if (ids === list.dataset.order) return;
      window.htmx.ajax("POST", list.dataset.reorderUrl, {
        source: list, target: "#rule-list", swap: "outerHTML", values: { order: ids }
      });
    });
  }

  init();
  document.body.addEventListener("htmx:afterSettle", init);
})();
