/* The Ticket Escalation form's "Preview these settings": the form's current values are posted, unsaved, to the
 * admin's preview endpoint (session-authenticated, scoped to the agent's workspace, CSRF-checked), which replays
 * them over the agent's recent turns and answers with a fragment rendered by Halo's own escaped template: what
 * would newly escalate, what no longer would, the tickets that would become priority, escalations by reason,
 * or the form's own errors. Nothing is saved. */
(function () {
  "use strict";
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }

  function start() {
    var button = document.getElementById("halo-preview-button");
    var panel = document.getElementById("halo-preview");
    if (!button || !panel) return;
    var form = button.form || document.getElementById("escalationsettings_form");
    var asked = 0;
    button.addEventListener("click", function () {
      var ticket = ++asked;
      panel.dataset.state = "pending";
      panel.textContent = "Replaying the recent conversations under these settings…";
      button.disabled = true;
      fetch(button.dataset.url, { method: "POST", body: new FormData(form), credentials: "same-origin" })
        .then(function (response) { return response.text(); })
        .then(function (html) {
          if (ticket !== asked) return;
          var fragment = new DOMParser().parseFromString(html, "text/html");
          panel.replaceChildren.apply(panel, Array.prototype.slice.call(fragment.body.childNodes));
          panel.dataset.state = "done";
          panel.scrollIntoView({ block: "nearest" });
        })
        .catch(function () {
          if (ticket === asked) panel.textContent = "The preview could not be computed right now. Try again.";
        })
        .finally(function () { button.disabled = false; });
    });
  }
})();
