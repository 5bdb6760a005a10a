/* The staff inbox in the browser: live updates over /ws/inbox/ with sequence replay, work without reloads,
 * bulk selection, macros and keyboard shortcuts.
 *
 * Live: the page was rendered at sequence `data-seq`. On connect (and on every reconnect) the socket asks
 * for what came after the last applied number; events are applied strictly in order (a gap is buffered
 * and asked for again). Applying an event re-fetches the page's live regions (`?partial=1`) from the
 * server, which renders and escapes them: no HTML is ever built here from event data (only textContent).
 *
 * Without reloads: every form of the inbox is sent with fetch. The server answers as it does without
 * JavaScript (post/redirect/get), so the answer is the next page, rendered by the server: when it is the same
 * page, its live regions are swapped in (the composer is kept unless the form asked to be reset); when it is
 * another page ("Close and next", a filter, a bulk action's list), the inbox's content is swapped and the URL
 * pushed to the history. The server's messages become toasts. One approach for everything: fetch and
 * server-rendered HTML; the pages work the same with JavaScript off.
 */
(function () {
  "use strict";
  if (!document.getElementById("inbox-root")) return;
  document.documentElement.classList.add("js");

  const LIVE_IDS = ["inbox-nav", "inbox-live", "ticket-header", "ticket-transcript", "ticket-side"];
  const stateEl = document.getElementById("inbox-live-state");
  let applied = parseInt(document.getElementById("inbox-root").dataset.seq, 10) || 0;
  const pending = new Map();
  let socket = null;
  let attempts = 0;
  let deniedWith = 0; // the code the last socket was closed with for lost access (4401 / 4403), else 0
  let refreshTimer = null;
  let resumeTimer = null;
  let refreshing = false;
  let refreshAgain = false;
  const selected = new Set(); // ticket ids selected on a list page (kept across live refreshes)
  let lastChecked = null;

  function root() { return document.getElementById("inbox-root"); }
  function page() { return root().dataset.page; }
  function ticketId() { return root().dataset.ticket ? parseInt(root().dataset.ticket, 10) : null; }

  function setState(state, text) {
    if (!stateEl) return;
    stateEl.dataset.state = state;
    stateEl.textContent = text;
  }

  function toast(text, kind) {
    const box = document.getElementById("inbox-toasts");
    if (!box) return;
    const item = document.createElement("div");
    item.className = "inbox-toast" + (kind ? " " + kind : "");
    item.textContent = text;
    box.appendChild(item);
    setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
  }

  // --- Live ------------------------------------------------------------------------------------------

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${scheme}//${location.host}${root().dataset.socket}?workspace=${encodeURIComponent(root().dataset.workspace)}`;
    socket = new WebSocket(url);
    let opened = false;
    socket.onopen = () => {
      opened = true;
      attempts = 0;
      deniedWith = 0;
      setState("live", "Live");
      resume();
    };
    socket.onmessage = (message) => {
      let frame;
      try { frame = JSON.parse(message.data); } catch (error) { return; }
      if (frame.type === "event") receive(frame);
      else if (frame.type === "resync") {
        pending.clear();
        applied = frame.seq;
        root().dataset.seq = String(applied);
        scheduleRefresh();
      }
    };
    socket.onclose = (event) => {
      // 4401 / 4403: the access this socket was opened with has ended. One new attempt: after the user
      // changed their own password the browser holds a new session and carries on; signed out or removed,
      // the new handshake is refused (the browser reports that as 1006) and the page says so.
      const denied = event.code === 4401 || event.code === 4403;
      if (deniedWith && (denied || !opened)) {
        const code = denied ? event.code : deniedWith;
        setState("offline", code === 4403 ? "No access: reload the page" : "Signed out: reload the page");
        return;
      }
      setState("offline", "Reconnecting…");
      if (denied) {
        deniedWith = event.code;
        setTimeout(connect, 500);
        return;
      }
      setTimeout(connect, Math.min(10000, 500 * 2 ** attempts++));
    };
  }

  function resume() {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "resume", last_seq: applied }));
    }
  }

  function receive(event) {
    if (event.seq <= applied) return;
    pending.set(event.seq, event);
    while (pending.has(applied + 1)) {
      const next = pending.get(applied + 1);
      pending.delete(applied + 1);
      applied += 1;
      apply(next);
    }
    root().dataset.seq = String(applied);
    clearTimeout(resumeTimer);
    if (pending.size) resumeTimer = setTimeout(resume, 400); // a gap: ask for what is missing
  }

  function apply(event) {
    if (event.event === "ticket.created") toast(`New ticket from ${event.data.contact || "a customer"}`);
    if (page() === "ticket" && event.ticket_id === ticketId() && event.event === "message.new" && event.data.author === "user") {
      toast("The customer wrote a new message");
    }
    scheduleRefresh();
  }

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, 120);
  }

  async function refresh() {
    if (refreshing) { refreshAgain = true; return; }
    refreshing = true;
    try {
      const url = new URL(location.href);
      url.searchParams.set("partial", "1");
      const response = await fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } });
      if (!response.ok) return;
      const fragment = new DOMParser().parseFromString(await response.text(), "text/html");
      swapRegions(fragment, { fresh: true });
    } catch (error) {
      /* offline: the next event or reconnect refreshes again */
    } finally {
      refreshing = false;
      if (refreshAgain) { refreshAgain = false; scheduleRefresh(); }
    }
  }

  /* Swap the live regions of this page for the ones in `doc` (the same page, rendered again). */
  function swapRegions(doc, options) {
    const before = new Set([...document.querySelectorAll("[data-ticket-id]")].map((row) => row.dataset.ticketId));
    const current = document.querySelector(".ticket-row.selected");
    const transcript = document.getElementById("ticket-transcript");
    const atBottom = transcript && transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40;
    const focusedId = document.activeElement && document.activeElement.id;
    const openDetails = new Set([...document.querySelectorAll("details[id][open]")].map((item) => item.id));
    for (const id of LIVE_IDS) {
      const fresh = doc.getElementById(id);
      const existing = document.getElementById(id);
      if (fresh && existing) existing.innerHTML = fresh.innerHTML;
    }
    openDetails.forEach((id) => { const item = document.getElementById(id); if (item) item.open = true; });
    if (transcript && atBottom) transcript.scrollTop = transcript.scrollHeight;
    document.querySelectorAll(".ticket-row[data-ticket-id]").forEach((row) => {
      if (options && options.fresh && before.size && !before.has(row.dataset.ticketId)) row.classList.add("fresh");
      if (current && row.dataset.ticketId === current.dataset.ticketId) row.classList.add("selected");
    });
    restoreSelection();
    if (focusedId && document.getElementById(focusedId) && focusedId !== "ticket-search") {
      document.getElementById(focusedId).focus();
    }
  }

  /* Replace the whole inbox page by `doc` (another page of the inbox), and push its URL. */
  function swapPage(doc, url, push) {
    const fresh = doc.getElementById("inbox-root");
    if (!fresh || fresh.dataset.workspace !== root().dataset.workspace) {
      location.assign(url); // another workspace: its own socket
      return;
    }
    root().replaceWith(document.adoptNode(fresh));
    document.title = doc.title;
    if (push) history.pushState({ inbox: true }, "", url);
    selected.clear();
    lastChecked = null;
    initPage();
  }

  function showMessages(doc) {
    doc.querySelectorAll(".halo-messages li").forEach((item) => {
      toast(item.textContent.trim(), item.classList.contains("error") ? "error" : "");
    });
    return [...doc.querySelectorAll(".halo-messages li.error")].length === 0;
  }

  async function load(url, init, push, restoring) {
    const response = await fetch(url, Object.assign({ credentials: "same-origin", headers: { "X-Requested-With": "fetch" } }, init));
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const ok = showMessages(doc) && response.ok;
    const finalUrl = new URL(response.url);
    const same = finalUrl.pathname === location.pathname && (!push || finalUrl.search === location.search);
    // Back/forward: the address bar already shows the page to restore, whatever page is on screen (a list, a
    // ticket, the report): the whole page is swapped, and nothing pushed.
    if (restoring) swapPage(doc, finalUrl.toString(), false);
    else if (same && doc.getElementById("inbox-root")) swapRegions(doc);
    else swapPage(doc, finalUrl.toString(), true);
    return ok;
  }

  async function submitForm(form, submitter) {
    const data = new FormData(form, submitter || undefined);
    if (submitter && submitter.hasAttribute("data-and-next")) data.set("and_next", "1");
    form.classList.add("sending");
    // Attributes, not form.action / form.method: a control named "action" would shadow the property.
    const action = new URL(form.getAttribute("action") || location.href, location.href);
    try {
      if ((form.getAttribute("method") || "get").toLowerCase() === "get") {
        const url = action;
        url.search = new URLSearchParams([...data].filter(([, value]) => value !== "")).toString();
        await load(url, {}, true);
        return;
      }
      const ok = await load(action, { method: "POST", body: data }, false);
      if (ok && form.isConnected && form.hasAttribute("data-reset-on-success")) form.reset();
    } catch (error) {
      toast("Could not reach Halo: check your connection and try again.", "error");
    } finally {
      form.classList.remove("sending");
    }
  }

  function confirmThen(text, action) {
    const dialog = document.getElementById("confirm-dialog");
    if (!dialog) { if (window.confirm(text)) action(); return; }
    document.getElementById("confirm-text").textContent = text;
    dialog.returnValue = "";
    dialog.addEventListener("close", function onClose() {
      dialog.removeEventListener("close", onClose);
      if (dialog.returnValue === "ok") action();
    });
    dialog.showModal();
    document.getElementById("confirm-ok").focus();
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!form.closest("#inbox-root") || (form.getAttribute("method") || "").toLowerCase() === "dialog") return;
    event.preventDefault();
    const submitter = event.submitter;
    if (form.hasAttribute("data-confirm")) {
      confirmThen(form.getAttribute("data-confirm"), () => submitForm(form, submitter));
      return;
    }
    submitForm(form, submitter);
  });

  window.addEventListener("popstate", () => { load(location.href, {}, false, true).catch(() => location.reload()); });

  // --- Bulk selection ----------------------------------------------------------------------------------

  function checkboxes() { return [...document.querySelectorAll(".ticket-select")]; }

  function restoreSelection() {
    checkboxes().forEach((box) => { box.checked = selected.has(box.value); });
    updateBulkBar();
  }

  function updateBulkBar() {
    const bar = document.getElementById("bulk-form");
    if (!bar) return;
    const boxes = checkboxes();
    const count = boxes.filter((box) => box.checked).length;
    bar.classList.toggle("active", count > 0);
    const label = document.getElementById("bulk-count");
    if (label) label.textContent = count ? `${count} selected` : "Select tickets to act on several at once";
    const all = document.getElementById("select-all");
    if (all) {
      all.checked = count > 0 && count === boxes.length;
      all.indeterminate = count > 0 && count < boxes.length;
    }
    boxes.forEach((box) => box.closest(".ticket-item").classList.toggle("checked", box.checked));
  }

  function setChecked(box, value) {
    box.checked = value;
    if (value) selected.add(box.value); else selected.delete(box.value);
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    // A download (the report's CSV) is left to the browser: it is a file, not a page to swap in.
    if (link && link.closest("#inbox-root") && !link.target && !link.hasAttribute("download") &&
        !event.ctrlKey && !event.metaKey && !event.shiftKey &&
        new URL(link.href).origin === location.origin && new URL(link.href).pathname.startsWith("/inbox/")) {
      event.preventDefault();
      load(link.href, {}, true).catch(() => location.assign(link.href));
      return;
    }
    const box = event.target.closest(".ticket-select");
    if (box) {
      const boxes = checkboxes();
      if (event.shiftKey && lastChecked && boxes.includes(lastChecked)) {
        const [from, to] = [boxes.indexOf(lastChecked), boxes.indexOf(box)].sort((a, b) => a - b);
        boxes.slice(from, to + 1).forEach((item) => setChecked(item, box.checked));
      } else {
        setChecked(box, box.checked);
      }
      lastChecked = box;
      updateBulkBar();
    }
    if (event.target.id === "select-all") {
      checkboxes().forEach((item) => setChecked(item, event.target.checked));
      updateBulkBar();
    }
    const tab = event.target.closest(".composer-tab");
    if (tab) showPane(tab.dataset.tab);
    if (event.target.closest("[data-help-open]")) document.getElementById("inbox-help").showModal();
    if (event.target.closest("#open-macros")) openMacros();
    const suggestion = event.target.closest("#insert-suggestion");
    if (suggestion) insertText(suggestion.dataset.text);
    const option = event.target.closest(".macro-option");
    if (option) chooseMacro(option);
  });

  function toggleSelected() {
    const row = document.querySelector(".ticket-row.selected");
    const box = row && row.closest(".ticket-item").querySelector(".ticket-select");
    if (!box) return;
    setChecked(box, !box.checked);
    lastChecked = box;
    updateBulkBar();
  }

  function bulk(action) {
    const form = document.getElementById("bulk-form");
    if (!form || !form.classList.contains("active")) return false;
    const button = form.querySelector(`button[value="${action}"]`);
    if (action === "assign") form.querySelector("select[name=assignee]").value = "me";
    if (button) button.click();
    return Boolean(button);
  }

  // --- Composer: macros and the suggested reply ----------------------------------------------------------

  function insertText(text) {
    showPane("reply");
    const area = document.getElementById("reply-body");
    if (!area || !text) return;
    const start = area.selectionStart, end = area.selectionEnd;
    area.setRangeText(text, start, end, "end");
    area.dispatchEvent(new Event("input", { bubbles: true }));
    area.focus();
  }

  function macroOptions() {
    return [...document.querySelectorAll(".macro-option")].filter((option) => !option.hidden);
  }

  function highlightOption(option) {
    document.querySelectorAll(".macro-option").forEach((item) => item.setAttribute("aria-selected", String(item === option)));
    if (option) option.scrollIntoView({ block: "nearest" });
  }

  function openMacros() {
    const dialog = document.getElementById("macro-picker");
    if (!dialog) return;
    const filter = document.getElementById("macro-filter");
    filter.value = "";
    document.querySelectorAll(".macro-option").forEach((option) => { option.hidden = false; });
    highlightOption(macroOptions()[0]);
    dialog.showModal();
    filter.focus();
  }

  function chooseMacro(option) {
    document.getElementById("macro-picker").close();
    insertText(option.dataset.text);
  }

  document.addEventListener("input", (event) => {
    if (event.target.id === "macro-filter") {
      const needle = event.target.value.trim().toLowerCase();
      document.querySelectorAll(".macro-option").forEach((option) => {
        option.hidden = Boolean(needle) && !option.dataset.name.includes(needle) && !option.dataset.text.toLowerCase().includes(needle);
      });
      highlightOption(macroOptions()[0]);
    }
  });

  function macroKeys(event) {
    const options = macroOptions();
    const current = options.findIndex((option) => option.getAttribute("aria-selected") === "true");
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const next = options[Math.max(0, Math.min(options.length - 1, current + (event.key === "ArrowDown" ? 1 : -1)))];
      highlightOption(next);
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (options[current]) chooseMacro(options[current]);
    }
  }

  // --- Keyboard ------------------------------------------------------------------------------------------
  let goPrefix = false;
  const GO = { o: "open", p: "priority", u: "unassigned", m: "mine", a: "all" };

  function rows() { return [...document.querySelectorAll(".ticket-row")]; }

  function select(delta) {
    const all = rows();
    if (!all.length) return;
    const index = all.findIndex((row) => row.classList.contains("selected"));
    const next = all[Math.max(0, Math.min(all.length - 1, index < 0 ? 0 : index + delta))];
    all.forEach((row) => row.classList.remove("selected"));
    next.classList.add("selected");
    next.focus();
  }

  function showPane(name) {
    document.querySelectorAll(".composer-tab").forEach((tab) => {
      const active = tab.dataset.tab === name;
      tab.classList.toggle("active", active);
      tab.setAttribute("aria-selected", String(active));
    });
    document.querySelectorAll(".composer-form").forEach((form) => { form.hidden = form.dataset.pane !== name; });
    const area = document.querySelector(`.composer-form[data-pane="${name}"] textarea`);
    if (area) area.focus();
  }

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target.id === "macro-filter") { macroKeys(event); return; }
    if (event.key === "/" && (event.ctrlKey || event.metaKey) && page() === "ticket") {
      event.preventDefault();
      openMacros();
      return;
    }
    const typing = target.matches && target.matches("input:not([type=checkbox]), textarea, select, [contenteditable]");
    if (typing) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.form) {
        event.preventDefault();
        target.form.requestSubmit();
      } else if (event.key === "Escape") {
        target.blur();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (goPrefix) {
      goPrefix = false;
      if (GO[event.key]) { load(`/inbox/${GO[event.key]}/`, {}, true); }
      return;
    }
    const help = document.getElementById("inbox-help");
    switch (event.key) {
      case "j": select(1); break;
      case "k": select(-1); break;
      case "x": toggleSelected(); break;
      case "*": {
        const boxes = checkboxes();
        const all = boxes.length && boxes.every((box) => box.checked);
        boxes.forEach((box) => setChecked(box, !all));
        updateBulkBar();
        break;
      }
      case "/": {
        const search = document.getElementById("ticket-search");
        if (search) { event.preventDefault(); search.focus(); search.select(); }
        break;
      }
      case "o":
      case "Enter": {
        const row = document.querySelector(".ticket-row.selected");
        if (row && (target === document.body || target === row)) { event.preventDefault(); load(row.href, {}, true); }
        break;
      }
      case "u":
      case "Escape": {
        const back = document.querySelector("[data-back]");
        if (back && !(help && help.open)) load(back.href, {}, true);
        break;
      }
      case "r": if (page() === "ticket") { event.preventDefault(); showPane("reply"); } break;
      case "n": if (page() === "ticket") { event.preventDefault(); showPane("note"); } break;
      case "a": {
        if (bulk("assign")) break;
        const form = document.getElementById("assign-me-form");
        if (form) form.requestSubmit();
        break;
      }
      case "c": {
        if (bulk("close")) break;
        const close = document.querySelector('#status-form [data-status="closed"]');
        if (close) close.click();
        break;
      }
      case "C": { const next = document.getElementById("close-next"); if (next) next.click(); break; }
      case "g": goPrefix = true; setTimeout(() => { goPrefix = false; }, 1500); break;
      case "?": if (help) help.showModal(); break;
      default: break;
    }
  });

  document.addEventListener("change", (event) => {
    const form = event.target.form;
    if (!form) return;
    if (form.matches("[data-autosubmit]") || event.target.matches("[data-autosubmit-select]") ||
        (form.matches("[data-autosubmit-filters]") && event.target.matches("[data-filter]"))) {
      form.requestSubmit();
    }
  });

  function initPage() {
    const transcript = document.getElementById("ticket-transcript");
    if (transcript) transcript.scrollTop = transcript.scrollHeight;
    if (page() === "list") select(0);
    updateBulkBar();
  }

  showMessages(document);
  initPage();
  connect();
})();
