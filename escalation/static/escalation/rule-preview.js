/* The Ticket Escalation form: while a filter rule is typed, how many contacts it matches now, or why the rule
 * is not valid (the count of the saved rule is never left beside a rule that does not parse). Asks the admin's
 * rule-preview endpoint (session-authenticated, scoped to the agent's workspace); text only, never HTML. */
(function () {
  "use strict";
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }

  function start() {
  var match = window.location.pathname.match(/\/escalationsettings\/(\d+)\/change\/$/);
  if (!match) return;
  var endpoint = window.location.pathname.replace(/change\/$/, "rule-preview");
  ["escalation_filter", "priority_filter"].forEach(function (name) {
    var input = document.getElementById("id_" + name);
    if (!input) return;
    var saved = document.querySelector(".field-" + name + "_matches .readonly");
    var preview = document.createElement("span");
    preview.className = "halo-rule-preview";
    preview.setAttribute("aria-live", "polite");
    input.insertAdjacentElement("afterend", preview);
    var timer = null;
    var asked = 0;
    function show(state, text) {
      preview.dataset.state = state;
      preview.textContent = text;
      if (saved) saved.textContent = state === "error" ? "—" : text;
    }
    function ask() {
      var rule = input.value.trim();
      var ticket = ++asked;
      if (!rule) { show("ok", name === "escalation_filter" ? "No filter: every contact may be handed off." : "No filter: no ticket starts as priority."); return; }
      show("pending", "Counting matching contacts…");
      fetch(endpoint + "?rule=" + encodeURIComponent(rule), { credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          if (ticket !== asked) return; // an older answer: the rule has changed since
          if (!data.valid) show("error", "Not a valid rule: " + data.message);
          else show("ok", data.count + " contact" + (data.count === 1 ? "" : "s") + " match now.");
        })
        .catch(function () { if (ticket === asked) show("pending", "Could not count the matches right now."); });
    }
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(ask, 300); });
  });
  }
})();
