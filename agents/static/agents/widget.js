/*
 * Halo chat widget: one tag, no build step.
 *
 *   <script src="https://HALO/static/agents/widget.js" data-app-id="APP_ID" async></script>
 *
 * Optional attributes: data-agent (the id of one of the workspace's agents, e.g. "Sales" on the pricing page
 * and "Support" in the help center; default: the workspace's first agent), data-user-jwt (an HS256 JWT
 * signed by YOUR server with the workspace's identity secret, claims user_id and optionally email, name,
 * traits: the only way to give Halo a signed-in user's email, name or traits) or data-user-id +
 * data-user-hash (hex HMAC-SHA256 of the user id under the identity secret: the user id alone),
 * data-open="true" (start open), data-track-pages="false" (do not record the host page as a page view).
 * data-email and data-name are not sent: unsigned, anyone could claim any address.
 *
 * The widget talks to Halo's widget API (/api/widget/v1/) on the script's own origin. An anonymous visitor
 * keeps a random visitor id, and the open conversation's id and token (one per agent), in localStorage. A
 * POST returns every message it created (the handoff's system message included); teammate and system
 * messages also arrive live over /ws/widget/conversations/{id}/. Live delivery is at most once (a Redis
 * restart can drop a broadcast), so the widget catches up with GET .../messages?after=<last id> when its
 * socket reconnects, when a live message's id skips past the last one it has (something may be missing
 * between), and every 10 s while a teammate owns the conversation. A message is shown once, whichever way
 * it came first (by id).
 * Every text is inserted as text (never as HTML).
 *
 * Seen receipts: while the panel is open and the page visible, the widget reports the newest message shown
 * (over the socket once it is live, else POST .../seen); a teammate reply the customer has seen is not emailed.
 * A closed ticket: the closing notice arrives as a system message, the status (back to the AI) and the ticket to
 * rate arrive over the socket (and in the catch-up's rating_request), and the widget asks once for a 1-5 rating
 * with an optional comment (POST .../rating). The hosted page of a reply email's link passes
 * data-conversation-id + data-conversation-token (a signed link token) to open that conversation.
 *
 * Feel: the customer's message shows at once (pending, then confirmed by the server's copy), a typing
 * indicator stands in for the AI while it answers, a failed send offers a retry in plain words, each message
 * has its time and its author (a teammate by first name, with initials), a reply that arrives while the panel
 * is closed puts an unread badge and a preview on the launcher, Esc closes the panel and gives focus back to
 * the launcher, and on a phone the panel takes the whole screen. The header says when a reply can be expected
 * (the config's expected_reply: the team's typical reply time in business hours, when it is back outside
 * them, on the visitor's clock: every call sends the browser's time zone).
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || !script.dataset.appId) {
    console.error("Halo widget: add data-app-id to the script tag.");
    return;
  }
  var base = new URL(script.src, window.location.href).origin;
  var appId = script.dataset.appId;
  var agentId = script.dataset.agent || null; // checked by the server: not one of the workspace's agents → 404
  // The user id a signed token names (its payload is readable; only the server checks the signature).
  function jwtUserId(token) {
    try {
      var payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      var claims = JSON.parse(window.atob(payload + "===".slice((payload.length + 3) % 4)));
      return typeof claims.user_id === "string" ? claims.user_id : null;
    } catch (error) {
      return null;
    }
  }
  var identity = {
    user_jwt: script.dataset.userJwt || null,
    user_id: script.dataset.userId || (script.dataset.userJwt ? jwtUserId(script.dataset.userJwt) : null),
    user_hash: script.dataset.userHash || null,
  };
  var storageKey = "halo:" + appId + (identity.user_id ? ":user:" + identity.user_id : "");
  // The visitor id is shared by every agent of the workspace (one contact); each agent has its own conversation.
  var conversationKey = agentId ? "conversation:agent:" + agentId : "conversation";
  var trackPages = script.dataset.trackPages !== "false";
  var MAX_CHARS = 4000;
  // When the team is back is said on the visitor's own clock (the server falls back to the workspace's).
  var visitorTimezone = null;
  try {
    visitorTimezone = Intl.DateTimeFormat().resolvedOptions().timeZone || null;
  } catch (error) {
    visitorTimezone = null;
  }
  var PAGE_SIZE = 200; // messages per ?after= page (agents.selectors.messages_after)
  // While a teammate owns the conversation, a catch-up this often: a reply whose broadcast was lost (Redis
  // restarted while the socket stayed open) shows within this time without any other message to reveal it.
  var HANDOFF_POLL_MS = 10000;
  // A conversation opened from an email's link (the hosted page): it is not kept in storage.
  var linked = script.dataset.conversationId && script.dataset.conversationToken
    ? { id: Number(script.dataset.conversationId), token: script.dataset.conversationToken }
    : null;

  var state = {
    config: null,
    conversation: null, // {id, token}
    lastId: 0,
    seen: {},
    socket: null,
    retry: 0,
    status: "open",
    busy: false,
    unread: 0,
    live: false, // the socket is authenticated
    seenSent: 0, // the newest message id reported as seen
    ratingTicket: null,
  };

  // --- storage --------------------------------------------------------------------------------------

  function load(name) {
    try {
      return JSON.parse(window.localStorage.getItem(storageKey + ":" + name));
    } catch (error) {
      return null;
    }
  }

  function save(name, value) {
    try {
      window.localStorage.setItem(storageKey + ":" + name, JSON.stringify(value));
    } catch (error) {
      /* private mode: the widget still works for this page view */
    }
  }

  function visitorId() {
    var id = load("visitor_id");
    if (!id) {
      var bytes = new Uint8Array(18);
      window.crypto.getRandomValues(bytes);
      id = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
      save("visitor_id", id);
    }
    return id;
  }

  function userPayload() {
    if (identity.user_jwt) return { user_jwt: identity.user_jwt };
    if (identity.user_id) return { user_id: identity.user_id, user_hash: identity.user_hash || "" };
    return { visitor_id: visitorId() };
  }

  // --- HTTP -----------------------------------------------------------------------------------------

  function api(method, path, body, query) {
    var url = new URL(base + "/api/widget/v1/" + path);
    url.searchParams.set("app_id", appId); // lets a CORS preflight find the workspace
    if (visitorTimezone) url.searchParams.set("timezone", visitorTimezone);
    Object.keys(query || {}).forEach(function (key) {
      if (query[key] !== null && query[key] !== undefined) url.searchParams.set(key, query[key]);
    });
    var headers = { "Content-Type": "application/json" };
    if (state.conversation && path.indexOf("conversations/") === 0) {
      headers.Authorization = "Bearer " + state.conversation.token;
    }
    return fetch(url.toString(), {
      method: method,
      headers: headers,
      body: body ? JSON.stringify(body) : undefined,
      credentials: "omit",
    }).catch(function () {
      var offline = new Error("We couldn't reach the chat. Check your connection and try again.");
      offline.status = 0;
      offline.code = "network";
      throw offline;
    }).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (error) { data = null; }
        if (!response.ok) {
          var fallback = response.status === 429 ? "You're sending messages quickly. Wait a moment and try again."
            : response.status >= 500 ? "Something went wrong on our side. Try again in a moment."
            : "That didn't work. Try again.";
          var failure = new Error((data && data.message) || fallback);
          failure.status = response.status;
          failure.code = data && data.code;
          throw failure;
        }
        return data;
      });
    });
  }

  // --- DOM ------------------------------------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  var stylesheet = document.createElement("link");
  stylesheet.rel = "stylesheet";
  stylesheet.href = base + "/static/agents/widget.css";
  document.head.appendChild(stylesheet);

  var root = el("div", "halo-widget");
  root.setAttribute("data-halo-widget", "");
  var launcher = el("button", "halo-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-label", "Open chat");
  launcher.appendChild(el("span", "halo-launcher-icon"));
  launcher.appendChild(el("span", "halo-launcher-label", "Chat"));
  var badge = el("span", "halo-unread");
  badge.hidden = true;
  badge.setAttribute("aria-hidden", "true");
  launcher.appendChild(badge);
  var preview = el("button", "halo-preview");
  preview.type = "button";
  preview.hidden = true;
  var previewAuthor = el("span", "halo-preview-author");
  var previewText = el("span", "halo-preview-text");
  preview.appendChild(previewAuthor);
  preview.appendChild(previewText);
  var panel = el("section", "halo-panel");
  panel.setAttribute("aria-label", "Chat");
  panel.setAttribute("role", "dialog");
  panel.hidden = true;
  var header = el("header", "halo-header");
  var heading = el("div", "halo-heading");
  var title = el("span", "halo-title", "Chat");
  // When a reply can be expected: the team's typical reply time in its hours, when it is back outside them.
  var expected = el("span", "halo-expected");
  expected.hidden = true;
  heading.appendChild(title);
  heading.appendChild(expected);
  var close = el("button", "halo-close", "×");
  close.type = "button";
  close.setAttribute("aria-label", "Close chat");
  header.appendChild(heading);
  header.appendChild(close);
  var list = el("ol", "halo-messages");
  list.setAttribute("aria-live", "polite");
  list.setAttribute("aria-label", "Messages");
  var typing = el("li", "halo-message halo-typing");
  typing.setAttribute("aria-label", "The assistant is typing");
  typing.appendChild(el("span", "halo-dot"));
  typing.appendChild(el("span", "halo-dot"));
  typing.appendChild(el("span", "halo-dot"));
  var notice = el("p", "halo-notice");
  notice.setAttribute("role", "alert");
  notice.hidden = true;
  var handoff = el("button", "halo-handoff", "Talk to a human");
  handoff.type = "button";
  handoff.hidden = true;
  // The rating prompt sits between the conversation and the input, so it takes as little height as it can:
  // one row (the question, the five scores, a dismiss), and the comment with its Send button only once a
  // score is chosen.
  var rating = el("section", "halo-rating");
  rating.hidden = true;
  rating.setAttribute("aria-labelledby", "halo-rating-title");
  var ratingRow = el("div", "halo-rating-row");
  var ratingTitle = el("h2", "halo-rating-title", "How did we do?");
  ratingTitle.id = "halo-rating-title";
  var ratingScores = el("div", "halo-rating-scores");
  ratingScores.setAttribute("role", "group");
  ratingScores.setAttribute("aria-label", "Rate your conversation with our team, from 1 (very bad) to 5 (very good)");
  var SCORE_LABELS = ["Very bad", "Bad", "OK", "Good", "Very good"];
  var scoreButtons = SCORE_LABELS.map(function (label, index) {
    var button = el("button", "halo-score", String(index + 1));
    button.type = "button";
    button.setAttribute("aria-pressed", "false");
    button.setAttribute("aria-label", (index + 1) + " out of 5: " + label);
    button.title = label;
    button.setAttribute("data-score", String(index + 1));
    ratingScores.appendChild(button);
    return button;
  });
  var ratingDismiss = el("button", "halo-rating-dismiss", "×");
  ratingDismiss.type = "button";
  ratingDismiss.setAttribute("aria-label", "Not now");
  ratingDismiss.title = "Not now";
  ratingRow.appendChild(ratingTitle);
  ratingRow.appendChild(ratingScores);
  ratingRow.appendChild(ratingDismiss);
  var ratingMore = el("div", "halo-rating-more");
  ratingMore.hidden = true;
  var ratingComment = el("textarea", "halo-rating-comment");
  ratingComment.rows = 1;
  ratingComment.maxLength = 2000;
  ratingComment.placeholder = "Anything to add? (optional)";
  ratingComment.setAttribute("aria-label", "Comment (optional)");
  var ratingSubmit = el("button", "halo-rating-submit", "Send rating");
  ratingSubmit.type = "button";
  ratingSubmit.disabled = true;
  ratingMore.appendChild(ratingComment);
  ratingMore.appendChild(ratingSubmit);
  var ratingError = el("p", "halo-rating-error");
  ratingError.setAttribute("role", "alert");
  ratingError.hidden = true;
  rating.appendChild(ratingRow);
  rating.appendChild(ratingMore);
  rating.appendChild(ratingError);
  var form = el("form", "halo-form");
  var input = el("textarea", "halo-input");
  input.name = "body";
  input.rows = 2;
  input.maxLength = MAX_CHARS;
  input.placeholder = "Ask a question…";
  input.setAttribute("aria-label", "Your message");
  var send = el("button", "halo-send", "Send");
  send.type = "submit";
  form.appendChild(input);
  form.appendChild(send);
  panel.appendChild(header);
  panel.appendChild(list);
  panel.appendChild(notice);
  panel.appendChild(rating);
  panel.appendChild(handoff);
  panel.appendChild(form);
  root.appendChild(panel);
  root.appendChild(preview);
  root.appendChild(launcher);

  function mount() { document.body.appendChild(root); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

  function safeUrl(url) {
    try {
      var parsed = new URL(url, window.location.href);
      return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.toString() : null;
    } catch (error) {
      return null;
    }
  }

  function authorLabel(message) {
    if (message.author === "user") return "You";
    if (message.author === "ai") return (state.config && state.config.name) || "AI";
    if (message.author === "teammate") return message.author_name || "Support team";
    return "";
  }

  function initials(name) {
    var parts = String(name || "").trim().split(/\s+/).filter(Boolean);
    return ((parts[0] || "?").charAt(0) + (parts.length > 1 ? parts[parts.length - 1].charAt(0) : "")).toUpperCase();
  }

  function timeLabel(iso) {
    var date = iso ? new Date(iso) : new Date();
    if (isNaN(date.getTime())) return "";
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function messageItem(message) {
    var item = el("li", "halo-message halo-message--" + message.author);
    var label = authorLabel(message);
    if (label) {
      var meta = el("span", "halo-author");
      if (message.author === "teammate" || message.author === "ai") {
        var avatar = el("span", "halo-avatar", initials(label));
        avatar.setAttribute("aria-hidden", "true");
        meta.appendChild(avatar);
      }
      meta.appendChild(el("span", "halo-author-name", label));
      var time = el("time", "halo-time", timeLabel(message.created_at));
      if (message.created_at) time.setAttribute("datetime", message.created_at);
      meta.appendChild(time);
      item.appendChild(meta);
    }
    item.appendChild(el("p", "halo-body", message.body));
    return item;
  }

  function uniqueSources(sources) {
    var seen = {};
    return (sources || []).filter(function (source) {
      var url = safeUrl(source.url);
      if (!url || seen[url]) return false;
      seen[url] = true;
      return true;
    });
  }

  function render(message) {
    if (state.seen[message.id]) return;
    state.seen[message.id] = true;
    state.lastId = Math.max(state.lastId, message.id);
    var item = messageItem(message);
    item.setAttribute("data-message-id", String(message.id));
    var sources = uniqueSources(message.sources);
    if (sources.length) {
      var links = el("ul", "halo-sources");
      sources.forEach(function (source) {
        var entry = el("li");
        var link = el("a", "halo-source", source.title || source.url);
        link.href = safeUrl(source.url);
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        entry.appendChild(link);
        links.appendChild(entry);
      });
      item.appendChild(links);
    }
    var later = null;
    Array.prototype.some.call(list.querySelectorAll("[data-message-id]"), function (other) {
      if (Number(other.getAttribute("data-message-id")) > message.id) { later = other; return true; }
      return false;
    });
    list.insertBefore(item, later); // kept in id order even when the socket is faster than the HTTP reply
    if (typing.parentNode) list.appendChild(typing);
    list.scrollTop = list.scrollHeight;
    if (message.author !== "user" && !state.quiet) notifyUnread(message);
    reportSeen();
  }

  /* The customer saw the conversation up to its newest message: only while the panel is open and the page is
     visible, and only forward. The socket carries it once live; otherwise a POST does. */
  function reportSeen() {
    if (!state.conversation || panel.hidden || document.visibilityState !== "visible") return;
    if (state.lastId <= state.seenSent) return;
    var upTo = state.lastId;
    state.seenSent = upTo;
    if (state.live && state.socket && state.socket.readyState === 1) {
      state.socket.send(JSON.stringify({ type: "seen", message_id: upTo }));
      return;
    }
    api("POST", "conversations/" + state.conversation.id + "/seen", { message_id: upTo }).catch(function () {
      if (state.seenSent === upTo) state.seenSent = 0; // not recorded: report again with the next message
    });
  }

  document.addEventListener("visibilitychange", reportSeen);

  // --- rating a closed ticket -----------------------------------------------------------------------

  var chosenScore = 0;

  function askRating(request) {
    if (!request || !request.ticket_id || state.ratingTicket === request.ticket_id) return;
    if (load("rating:" + request.ticket_id)) return; // asked once: rated or dismissed before
    state.ratingTicket = request.ticket_id;
    chosenScore = 0;
    scoreButtons.forEach(function (button) { button.setAttribute("aria-pressed", "false"); });
    ratingComment.value = "";
    ratingScores.hidden = false;
    ratingMore.hidden = true;
    ratingSubmit.disabled = true;
    ratingError.hidden = true;
    ratingTitle.textContent = "How did we do?";
    rating.hidden = false;
    rating.removeAttribute("data-state");
    setStatus(state.status);
    list.scrollTop = list.scrollHeight;
  }

  function closeRating(outcome) {
    if (state.ratingTicket) save("rating:" + state.ratingTicket, outcome);
    rating.hidden = true;
    setStatus(state.status);
  }

  scoreButtons.forEach(function (button) {
    button.addEventListener("click", function () {
      chosenScore = Number(button.getAttribute("data-score"));
      scoreButtons.forEach(function (other) {
        other.setAttribute("aria-pressed", other === button ? "true" : "false");
      });
      ratingSubmit.disabled = false;
      var opening = ratingMore.hidden;
      ratingMore.hidden = false;
      if (opening) list.scrollTop = list.scrollHeight; // the list just got shorter: keep the newest in view
    });
  });

  ratingDismiss.addEventListener("click", function () {
    closeRating(rating.getAttribute("data-state") === "thanks" ? "rated" : "dismissed");
    input.focus();
  });

  ratingSubmit.addEventListener("click", function () {
    if (!chosenScore || !state.conversation) return;
    ratingSubmit.disabled = true;
    ratingError.hidden = true;
    api("POST", "conversations/" + state.conversation.id + "/rating", {
      score: chosenScore,
      comment: ratingComment.value.trim(),
    })
      .then(function () { return "rated"; }, function (error) {
        if (error.status === 409) return "rated"; // rated already (another tab): nothing left to ask
        throw error;
      })
      .then(function () {
        save("rating:" + state.ratingTicket, "rated");
        rating.setAttribute("data-state", "thanks");
        ratingTitle.textContent = "Thanks for your rating!";
        ratingScores.hidden = true;
        ratingMore.hidden = true;
        setStatus(state.status);
      })
      .catch(function (error) {
        ratingError.textContent = error.message;
        ratingError.hidden = false;
        ratingSubmit.disabled = false;
      });
  });

  function notifyUnread(message) {
    if (!panel.hidden) return;
    state.unread += 1;
    badge.textContent = state.unread > 9 ? "9+" : String(state.unread);
    badge.hidden = false;
    launcher.setAttribute("aria-label", "Open chat, " + state.unread + " unread message" + (state.unread > 1 ? "s" : ""));
    previewAuthor.textContent = authorLabel(message) || (state.config && state.config.name) || "";
    previewText.textContent = message.body.length > 120 ? message.body.slice(0, 119) + "…" : message.body;
    preview.hidden = false;
  }

  function clearUnread() {
    state.unread = 0;
    badge.hidden = true;
    preview.hidden = true;
    launcher.setAttribute("aria-label", "Open chat");
  }

  function renderAll(messages) {
    (messages || []).slice().sort(function (a, b) { return a.id - b.id; }).forEach(render);
  }

  function showNotice(text) {
    notice.textContent = text || "";
    notice.hidden = !text;
  }

  function setStatus(status) {
    state.status = status || state.status;
    root.setAttribute("data-status", state.status);
    var handedOff = state.status === "handed_off";
    var asking = !rating.hidden && rating.getAttribute("data-state") !== "thanks"; // one prompt at a time
    handoff.hidden = !(state.config && state.config.human_handoff_available) || handedOff || asking;
    // Outside business hours the handoff message asks for an email address first: the input says so too.
    var away = state.config && state.config.expected_reply && !state.config.expected_reply.open_now;
    input.placeholder = handedOff && away ? "Your email address, or more details…" : "Ask a question…";
  }

  // --- conversation ---------------------------------------------------------------------------------

  function remember(conversation) {
    state.conversation = conversation;
    if (!linked) save(conversationKey, conversation);
  }

  function sendMessage(body) {
    if (!state.conversation) {
      var start = { app_id: appId, user: userPayload(), body: body };
      if (agentId) start.agent = /^[0-9]{1,15}$/.test(agentId) ? Number(agentId) : agentId;
      return api("POST", "conversations", start).then(function (data) {
        if (data.visitor_id && !identity.user_id) save("visitor_id", data.visitor_id);
        remember({ id: data.id, token: data.token });
        connect();
        return data;
      });
    }
    return api("POST", "conversations/" + state.conversation.id + "/messages", { body: body });
  }

  // The messages after ``afterId`` (default: the last one shown).
  function catchUp(afterId) {
    if (!state.conversation) return Promise.resolve();
    var after = typeof afterId === "number" ? afterId : state.lastId;
    return api("GET", "conversations/" + state.conversation.id + "/messages", null, { after: after })
      .then(function (data) {
        renderAll(data.messages);
        setStatus(data.status);
        askRating(data.rating_request);
        if ((data.messages || []).length >= PAGE_SIZE) return catchUp(); // more than one page was missed
      })
      .catch(function (error) {
        if (error.status === 404 || error.status === 401) {
          // The stored conversation is gone or its token no longer matches: start afresh next time.
          state.conversation = null;
          if (!linked) save(conversationKey, null);
          else showNotice("This link no longer opens the conversation. Write to us here to start a new one.");
        }
      });
  }

  function connect() {
    if (!state.conversation || state.socket) return;
    var wsBase = base.replace(/^http/, "ws");
    // The token goes in the first frame, not the URL: URLs end up in access logs.
    var socket = new WebSocket(wsBase + "/ws/widget/conversations/" + state.conversation.id + "/");
    var token = state.conversation.token;
    state.socket = socket;
    socket.onopen = function () {
      socket.send(JSON.stringify({ type: "auth", token: token }));
    };
    socket.onmessage = function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (error) { return; }
      if (data.type === "ready") {
        // Live from here on: after a reconnect, fetch what was missed meanwhile.
        var reconnected = state.retry > 0;
        state.retry = 0;
        state.live = true;
        if (reconnected) catchUp();
        reportSeen();
      } else if (data.type === "message" && data.message) {
        // Ids are global (other conversations take ids too), so a skip only says a message of ours may be
        // missing: one catch-up settles it (and brings nothing when none was).
        var before = state.lastId;
        render(data.message);
        if (data.message.author === "teammate") setStatus("handed_off");
        if (before > 0 && data.message.id > before + 1) catchUp(before); // from before the skip
      } else if (data.type === "status") {
        // A closed ticket handed the conversation back to the AI: no reload needed.
        setStatus(data.status);
        askRating(data.rating_request);
      }
    };
    socket.onclose = function (event) {
      state.socket = null;
      state.live = false;
      if (event.code === 4401 || event.code === 4403) return; // refused: retrying will not help
      state.retry += 1;
      var delay = Math.min(30000, 500 * Math.pow(2, state.retry));
      window.setTimeout(connect, delay);
    };
  }

  window.setInterval(function () {
    if (state.conversation && state.status === "handed_off" && !state.busy) catchUp();
  }, HANDOFF_POLL_MS);

  function setBusy(busy) {
    state.busy = busy;
    send.disabled = busy;
    handoff.disabled = busy;
    root.setAttribute("data-busy", busy ? "true" : "false");
  }

  function showTyping(show) {
    if (show && state.status !== "handed_off") {
      list.appendChild(typing);
      list.scrollTop = list.scrollHeight;
    } else if (typing.parentNode) {
      typing.parentNode.removeChild(typing);
    }
  }

  /* The customer's message shows at once as pending; the server's copy replaces it when the POST answers.
     A failed send stays in place with a retry button (its text is kept). */
  function deliver(body, pendingItem) {
    setBusy(true);
    showNotice("");
    pendingItem.className = "halo-message halo-message--user halo-message--pending";
    var failed = pendingItem.querySelector(".halo-failed");
    if (failed) pendingItem.removeChild(failed);
    showTyping(true);
    sendMessage(body)
      .then(function (data) {
        if (pendingItem.parentNode) pendingItem.parentNode.removeChild(pendingItem);
        showTyping(false);
        renderAll(data.messages);
        setStatus(data.status);
      })
      .catch(function (error) {
        showTyping(false);
        pendingItem.className = "halo-message halo-message--user halo-message--failed";
        var row = el("span", "halo-failed");
        row.appendChild(el("span", "halo-failed-text", error.code === "network" ? "Not sent." : error.message));
        var retry = el("button", "halo-retry", "Retry");
        retry.type = "button";
        retry.addEventListener("click", function () { if (!state.busy) deliver(body, pendingItem); });
        row.appendChild(retry);
        pendingItem.appendChild(row);
        if (error.code === "network") showNotice(error.message);
      })
      .then(function () { setBusy(false); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = input.value.trim();
    if (!body || state.busy) return;
    if (body.length > MAX_CHARS) {
      showNotice("Messages are at most " + MAX_CHARS + " characters.");
      return;
    }
    input.value = "";
    var pendingItem = messageItem({ author: "user", body: body, created_at: new Date().toISOString() });
    list.appendChild(pendingItem);
    list.scrollTop = list.scrollHeight;
    deliver(body, pendingItem);
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit"));
    }
  });

  handoff.addEventListener("click", function () {
    if (state.busy) return;
    setBusy(true);
    showNotice("");
    var ready = state.conversation ? Promise.resolve() : sendMessage("I'd like to talk to a human.").then(function (data) {
      renderAll(data.messages);
    });
    ready
      .then(function () { return api("POST", "conversations/" + state.conversation.id + "/handoff", {}); })
      .then(function (data) {
        renderAll(data && data.messages);
        setStatus((data && data.status) || "handed_off");
        input.focus();
        return catchUp();
      })
      .catch(function (error) {
        if (error.code === "handoff_unavailable") {
          handoff.hidden = true;
        }
        showNotice(error.message);
      })
      .then(function () { setBusy(false); });
  });

  function open() {
    panel.hidden = false;
    launcher.hidden = true;
    clearUnread();
    root.setAttribute("data-open", "true");
    list.scrollTop = list.scrollHeight;
    input.focus();
    reportSeen();
  }

  function shut() {
    panel.hidden = true;
    launcher.hidden = false;
    root.setAttribute("data-open", "false");
    launcher.focus();
  }

  launcher.addEventListener("click", open);
  preview.addEventListener("click", open);
  close.addEventListener("click", shut);
  // Esc closes the open panel while focus is in it (or nowhere, e.g. after a button in it was hidden).
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || panel.hidden) return;
    var target = event.target;
    if (root.contains(target) || target === document.body || target === document.documentElement) {
      event.preventDefault();
      shut();
    }
  });

  function recordPageView() {
    if (!trackPages) return;
    if (!identity.user_id && !load("visitor_id")) return; // a visitor Halo has never met: nothing to record
    var payload = { app_id: appId, user: userPayload(), url: (window.location.pathname + window.location.search).slice(0, 2048) };
    api("POST", "page-views", payload).catch(function () { /* best effort: never bother the visitor */ });
  }

  // --- start ----------------------------------------------------------------------------------------

  var configQuery = identity.user_jwt
    ? { user_jwt: identity.user_jwt }
    : identity.user_id
      ? { user_id: identity.user_id, user_hash: identity.user_hash }
      : { visitor_id: load("visitor_id") };
  configQuery.agent = agentId;
  api("GET", "config", null, configQuery)
    .then(function (config) {
      state.config = config;
      title.textContent = config.name;
      if (config.expected_reply && config.expected_reply.text) {
        expected.textContent = config.expected_reply.text;
        expected.hidden = false;
        root.setAttribute("data-team", config.expected_reply.open_now ? "open" : "away");
      }
      if (config.greeting) list.appendChild(el("li", "halo-message halo-message--greeting", config.greeting));
      setStatus(state.status);
      root.setAttribute("data-ready", "true");
      recordPageView();
      var stored = linked || load(conversationKey);
      if (stored && stored.id && stored.token) {
        state.conversation = stored;
        state.quiet = true; // what the catch-up brings was seen before: no unread badge for it
        return catchUp().then(function () { state.quiet = false; connect(); });
      }
    })
    .catch(function (error) {
      showNotice("Chat is unavailable right now.");
      console.error("Halo widget:", error.message);
    });

  if (script.dataset.open === "true") open();
})();
