// The live operations page: renders the state the staff socket sends (whole on connect,
// then only what changed), and counts down locally between them. Nothing here asks the
// server for anything.
(function () {
  "use strict";
  var status = document.getElementById("live-status");
  var offset = 0; // server clock minus this browser's clock, from the last snapshot
  var pending = [];

  function el(tag, text, attrs) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (var name in attrs || {}) node.setAttribute(name, attrs[name]);
    return node;
  }

  function cell(row, text, numeric) {
    var td = el("td", text);
    if (numeric) td.className = "num";
    row.appendChild(td);
    return td;
  }

  function remaining(expiresAt) {
    var seconds = Math.round((Date.parse(expiresAt) - (Date.now() + offset)) / 1000);
    return seconds > 0 ? seconds + " s" : "expiring…";
  }

  function renderPending(state) {
    var body = document.querySelector("#pending tbody");
    body.textContent = "";
    pending = state.pending;
    document.getElementById("pending-count").textContent = state.pending_count;
    if (!pending.length) {
      var empty = el("tr");
      var td = cell(empty, "Nobody is waiting.");
      td.colSpan = 8; td.className = "empty";
      body.appendChild(empty);
      return;
    }
    pending.forEach(function (request) {
      var row = el("tr", null, {"data-request": request.id});
      var link = el("a", request.id.slice(0, 8) + "…", {href: request.url, title: request.id});
      var first = cell(row, null); first.className = "mono"; first.appendChild(link);
      cell(row, remaining(request.expires_at), true).className = "num countdown"; // first: it is what a phone shows
      cell(row, request.customer);
      cell(row, request.minutes, true);
      cell(row, request.offered, true);
      cell(row, request.delivered, true);
      cell(row, request.seen, true);
      cell(row, request.declined, true);
      body.appendChild(row);
    });
  }

  function renderMitras(mitras) {
    ["in_session", "available", "switched_off", "offline"].forEach(function (group) {
      var list = document.getElementById("group-" + group);
      list.textContent = "";
      document.getElementById("count-" + group).textContent = mitras[group].length;
      mitras[group].forEach(function (mitra) {
        var item = el("li");
        item.appendChild(el("a", mitra.name, {href: mitra.url}));
        if (mitra.sessions) item.appendChild(el("small", " " + mitra.sessions + (mitra.sessions > 1 ? " sessions" : " session")));
        if (group === "in_session" && !mitra.online) item.appendChild(el("small", " (app closed)"));
        list.appendChild(item);
      });
    });
    document.getElementById("presence-unknown").hidden = mitras.presence_known;
  }

  function renderToday(today) {
    ["requests", "accepted", "cancelled", "expired", "pending"].forEach(function (name) {
      document.getElementById("today-" + name).textContent = today[name];
    });
    var median = today.median_accept_seconds;
    document.getElementById("today-median").textContent = median === null ? "—" : "median " + median.toFixed(1) + " s";
  }

  function renderAlerts(alerts) {
    var list = document.getElementById("alerts");
    list.textContent = "";
    document.getElementById("alert-count").textContent = alerts.length;
    if (!alerts.length) { list.appendChild(el("li", "Nothing needs attention.", {"class": "ok"})); return; }
    alerts.forEach(function (alert) {
      var item = el("li", null, {"data-kind": alert.kind});
      item.appendChild(el("a", alert.text, {href: alert.url}));
      list.appendChild(item);
    });
  }

  // The mitra board, sorted by the header last chosen (state, then name, by default).
  var STATES = {in_session: "in a session", available: "available", switched_off: "online, switched off", offline: "offline"};
  var ORDER = {in_session: 0, available: 1, switched_off: 2, offline: 3};
  var sortKey = "state", sortUp = true, board = [], timeZone;

  function clock(iso) {
    if (!iso) return "—";
    var at = new Date(iso);
    // In the control center's time zone, like every time the server writes, not the browser's.
    return at.toLocaleTimeString("en-GB", {hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
                                           timeZone: timeZone});
  }

  function left(iso) {
    if (!iso) return "";
    var seconds = Math.round((Date.parse(iso) - (Date.now() + offset)) / 1000);
    if (seconds <= 0) return "ending…";
    return Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
  }

  function value(row, key) {
    if (key === "state") return ORDER[row.state];
    if (key === "name") return row.name.toLowerCase();
    return row[key];
  }

  function sorted(rows) {
    return rows.slice().sort(function (a, b) {
      var x = value(a, sortKey), y = value(b, sortKey);
      if (x === null || x === undefined) return (y === null || y === undefined) ? 0 : 1; // no value: last
      if (y === null || y === undefined) return -1;
      var order = x < y ? -1 : x > y ? 1 : a.name.toLowerCase() < b.name.toLowerCase() ? -1 : 1;
      return sortUp ? order : -order;
    });
  }

  function renderBoard(rows) {
    board = rows;
    var body = document.querySelector("#board tbody");
    body.textContent = "";
    if (!rows.length) {
      var empty = el("tr");
      var td = cell(empty, "No mitra is online or was offered a request today.");
      td.colSpan = 12; td.className = "empty";
      body.appendChild(empty);
      return;
    }
    sorted(rows).forEach(function (row) {
      var tr = el("tr", null, {"data-mitra": row.id});
      var name = cell(tr, null); name.appendChild(el("a", row.name, {href: row.url}));
      var state = cell(tr, null); state.className = "state";
      state.appendChild(el("span", STATES[row.state], {"class": "pill " + row.state}));
      cell(tr, clock(row.since));
      var sessions = cell(tr, null);
      if (!row.sessions.length) sessions.textContent = "—";
      row.sessions.forEach(function (session, i) {
        if (i) sessions.appendChild(document.createTextNode(" "));
        var link = el("a", left(session.ends_at) || session.status, {href: session.url, "class": "session-timer",
                                                                     "data-ends": session.ends_at || ""});
        link.setAttribute("aria-label", "Session " + session.id.slice(0, 8) + ", " + session.status);
        sessions.appendChild(link);
      });
      cell(tr, clock(row.last_answer));
      cell(tr, row.offered, true);
      cell(tr, row.delivered, true);
      cell(tr, row.answered, true);
      cell(tr, row.ignored, true);
      cell(tr, row.response_rate === null ? "—" : Math.round(100 * row.response_rate) + "%", true);
      var app = cell(tr, null);
      if (row.not_acknowledging) {
        app.appendChild(el("span", "app not acknowledging (" + row.undelivered_in_a_row + " in a row)", {"class": "pill bad"}));
      } else {
        app.appendChild(el("span", row.offered ? "acknowledging" : "—", {"class": row.offered ? "pill good" : ""}));
      }
      cell(tr, row.push_devices ? row.push_devices : "none", true);
      body.appendChild(tr);
    });
  }

  document.querySelectorAll("#board button.sort").forEach(function (button) {
    button.addEventListener("click", function () {
      var key = button.getAttribute("data-key");
      sortUp = key === sortKey ? !sortUp : true;
      sortKey = key;
      document.querySelectorAll("#board thead th[aria-sort]").forEach(function (th) { th.setAttribute("aria-sort", "none"); });
      button.parentNode.setAttribute("aria-sort", sortUp ? "ascending" : "descending");
      renderBoard(board);
    });
  });

  function renderExpired(expired) {
    var list = document.getElementById("expired-recently");
    list.textContent = "";
    document.getElementById("expired-count").textContent = expired.length;
    if (!expired.length) { list.appendChild(el("li", "None.", {"class": "muted"})); return; }
    expired.forEach(function (request) {
      var item = el("li", null, {"data-request": request.id});
      item.appendChild(el("a", request.id.slice(0, 8) + "…", {href: request.url, "class": "mono-link"}));
      item.appendChild(document.createTextNode(" " + clock(request.expired_at) + " · " + request.customer + " · "));
      item.appendChild(el("small", (request.reason || "expired") + " · offered " + request.offered + ", delivered " + request.delivered));
      list.appendChild(item);
    });
  }

  function render(state) {
    offset = Date.parse(state.now) - Date.now();
    timeZone = state.time_zone;
    renderExpired(state.expired_recently);
    renderAlerts(state.alerts);
    renderPending(state);
    renderMitras(state.mitras);
    renderBoard(state.board);
    renderToday(state.today);
  }

  // The state the page shows, kept by id, so an update (only what changed) can be merged.
  var GROUPS = ["in_session", "available", "switched_off", "offline"];
  var current = null, mitraById = {}, boardById = {};

  function byName(a, b) {
    var x = a.name.toLowerCase(), y = b.name.toLowerCase();
    return x < y ? -1 : x > y ? 1 : 0;
  }

  function groups(presenceKnown) {
    var grouped = {presence_known: presenceKnown};
    GROUPS.forEach(function (group) { grouped[group] = []; });
    Object.keys(mitraById).forEach(function (id) { grouped[mitraById[id].group].push(mitraById[id]); });
    GROUPS.forEach(function (group) { grouped[group].sort(byName); });
    return grouped;
  }

  function show(state) {
    current = state;
    mitraById = {};
    GROUPS.forEach(function (group) {
      state.mitras[group].forEach(function (mitra) { mitra.group = group; mitraById[mitra.id] = mitra; });
    });
    boardById = {};
    state.board.forEach(function (row) { boardById[row.id] = row; });
    render(state);
  }

  // An update carries the page's parts that changed whole, mitras whose entry changed
  // (whole) or are gone, and board rows' changed fields; only those sections are redrawn.
  function merge(update) {
    offset = Date.parse(update.now) - Date.now();
    current.now = update.now;
    ["pending", "pending_count", "alerts", "expired_recently", "today"].forEach(function (part) {
      if (part in update) current[part] = update[part];
    });
    if (update.mitras) {
      update.mitras.removed.forEach(function (id) { delete mitraById[id]; });
      update.mitras.changed.forEach(function (mitra) { mitraById[mitra.id] = mitra; });
      current.mitras = groups(update.mitras.presence_known);
      renderMitras(current.mitras);
    }
    if (update.board) {
      update.board.removed.forEach(function (id) { delete boardById[id]; });
      update.board.changed.forEach(function (row) { boardById[row.id] = Object.assign(boardById[row.id] || {}, row); });
      current.board = Object.keys(boardById).map(function (id) { return boardById[id]; });
      renderBoard(current.board);
    }
    if ("expired_recently" in update) renderExpired(current.expired_recently);
    if ("alerts" in update) renderAlerts(current.alerts);
    if ("pending" in update || "pending_count" in update) renderPending(current);
    if ("today" in update) renderToday(current.today);
  }

  // The local countdown: one tick a second rewrites the "expires in" cells.
  setInterval(function () {
    var cells = document.querySelectorAll("#pending .countdown");
    for (var i = 0; i < cells.length && i < pending.length; i++) cells[i].textContent = remaining(pending[i].expires_at);
    document.querySelectorAll("#board .session-timer[data-ends]").forEach(function (timer) {
      var ends = timer.getAttribute("data-ends");
      if (ends) timer.textContent = left(ends);
    });
  }, 1000);

  var retry = 500;
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/ws/control-center/live/");
    socket.onopen = function () { retry = 500; status.textContent = "live"; status.className = "live"; };
    socket.onmessage = function (message) {
      var frame = JSON.parse(message.data);
      if (frame.type === "snapshot") show(frame.data);
      else if (frame.type === "update" && current) merge(frame.data);
    };
    socket.onclose = function (closed) {
      if (closed.code === 4403) { status.textContent = "signed out: reload to sign in"; status.className = "down"; return; }
      status.textContent = "reconnecting…"; status.className = "down";
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  show(JSON.parse(document.getElementById("live-snapshot").textContent));
  connect();
})();
