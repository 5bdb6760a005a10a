/* The staff inbox in the browser: live updates over /ws/inbox/ with sequence replay, and keyboard shortcuts.
 *
 * Live: the page was rendered at sequence `data-seq`. On connect (and on every reconnect) the socket asks
 * for what came after the last applied number; events are applied strictly in order (a gap is buffered
 * and asked for again). Applying an event re-fetches the page's live regions (`?partial=1`) from the
 * server, which renders and escapes them: no HTML is ever built here from event data (only textContent).
 */
(function () {
  "use strict";
  const root = document.getElementById("inbox-root");
  if (!root) return;

  const LIVE_IDS = ["inbox-nav", "inbox-live", "ticket-header", "ticket-transcript", "ticket-side"];
  const page = root.dataset.page;
  const ticketId = root.dataset.ticket ? parseInt(root.dataset.ticket, 10) : null;
  const stateEl = document.getElementById("inbox-live-state");
  let applied = parseInt(root.dataset.seq, 10) || 0;
  const pending = new Map();
  let socket = null;
  let attempts = 0;
  let deniedWith = 0; // the code the last socket was closed with for lost access (4401 / 4403), else 0
  let refreshTimer = null;
  let resumeTimer = null;
  let refreshing = false;
  let refreshAgain = false;

  function setState(state, text) {
    if (!stateEl) return;
    stateEl.dataset.state = state;
    stateEl.textContent = text;
  }

  function toast(text) {
    const box = document.getElementById("inbox-toasts");
    if (!box) return;
    const item = document.createElement("div");
    item.className = "inbox-toast";
    item.textContent = text;
    box.appendChild(item);
    setTimeout(() => item.remove(), 5000);
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${scheme}//${location.host}${root.dataset.socket}?workspace=${encodeURIComponent(root.dataset.workspace)}`;
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
        root.dataset.seq = String(applied);
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
    root.dataset.seq = String(applied);
    clearTimeout(resumeTimer);
    if (pending.size) resumeTimer = setTimeout(resume, 400); // a gap: ask for what is missing
  }

  function apply(event) {
    if (event.event === "ticket.created") toast(`New ticket from ${event.data.contact || "a customer"}`);
    if (page === "ticket" && event.ticket_id === ticketId && event.event === "message.new" && event.data.author === "user") {
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
      const before = new Set([...document.querySelectorAll("[data-ticket-id]")].map((row) => row.dataset.ticketId));
      const selected = document.querySelector(".ticket-row.selected");
      const transcript = document.getElementById("ticket-transcript");
      const atBottom = transcript && transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40;
      for (const id of LIVE_IDS) {
        const fresh = fragment.getElementById(id);
        const current = document.getElementById(id);
        if (fresh && current) current.innerHTML = fresh.innerHTML;
      }
      if (transcript && atBottom) transcript.scrollTop = transcript.scrollHeight;
      document.querySelectorAll(".ticket-row[data-ticket-id]").forEach((row) => {
        if (before.size && !before.has(row.dataset.ticketId)) row.classList.add("fresh");
        if (selected && row.dataset.ticketId === selected.dataset.ticketId) row.classList.add("selected");
      });
    } catch (error) {
      /* offline: the next event or reconnect refreshes again */
    } finally {
      refreshing = false;
      if (refreshAgain) { refreshAgain = false; scheduleRefresh(); }
    }
  }

  // --- Keyboard ------------------------------------------------------------------------------------------
  let goPrefix = false;
  const GO = { o: "open", p: "priority", u: "unassigned", m: "mine" };

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
    const typing = target.matches && target.matches("input, textarea, select, [contenteditable]");
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
      if (GO[event.key]) { location.href = `/inbox/${GO[event.key]}/`; }
      return;
    }
    const help = document.getElementById("inbox-help");
    switch (event.key) {
      case "j": select(1); break;
      case "k": select(-1); break;
      case "o":
      case "Enter": {
        const row = document.querySelector(".ticket-row.selected");
        if (row) { event.preventDefault(); location.href = row.href; }
        break;
      }
      case "u":
      case "Escape": {
        const back = document.querySelector("[data-back]");
        if (back && !(help && help.open)) location.href = back.href;
        break;
      }
      case "r": if (page === "ticket") { event.preventDefault(); showPane("reply"); } break;
      case "n": if (page === "ticket") { event.preventDefault(); showPane("note"); } break;
      case "a": { const form = document.getElementById("assign-me-form"); if (form) form.requestSubmit(); break; }
      case "c": { const close = document.querySelector('#status-form [data-status="closed"]'); if (close) close.click(); break; }
      case "g": goPrefix = true; setTimeout(() => { goPrefix = false; }, 1500); break;
      case "?": if (help) help.showModal(); break;
      default: break;
    }
  });

  document.addEventListener("click", (event) => {
    const tab = event.target.closest(".composer-tab");
    if (tab) showPane(tab.dataset.tab);
    if (event.target.closest("[data-help-open]")) document.getElementById("inbox-help").showModal();
  });

  document.addEventListener("change", (event) => {
    const form = event.target.form;
    if (form && (form.matches("[data-autosubmit]") || event.target.matches("[data-autosubmit-select]"))) form.requestSubmit();
  });

  const transcript = document.getElementById("ticket-transcript");
  if (transcript) transcript.scrollTop = transcript.scrollHeight;
  if (page === "list") select(0);
  connect();
})();
