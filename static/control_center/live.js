// The live operations page: renders the state the staff socket sends, and counts down
// locally between snapshots. Nothing here asks the server for anything.
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

  function render(state) {
    offset = Date.parse(state.now) - Date.now();
    renderPending(state);
    renderMitras(state.mitras);
    renderToday(state.today);
  }

  // The local countdown: one tick a second rewrites the "expires in" cells.
  setInterval(function () {
    var cells = document.querySelectorAll("#pending .countdown");
    for (var i = 0; i < cells.length && i < pending.length; i++) cells[i].textContent = remaining(pending[i].expires_at);
  }, 1000);

  var retry = 500;
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/ws/control-center/live/");
    socket.onopen = function () { retry = 500; status.textContent = "live"; status.className = "live"; };
    socket.onmessage = function (message) {
      var frame = JSON.parse(message.data);
      if (frame.type === "snapshot") render(frame.data);
    };
    socket.onclose = function (closed) {
      if (closed.code === 4403) { status.textContent = "signed out: reload to sign in"; status.className = "down"; return; }
      status.textContent = "reconnecting…"; status.className = "down";
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  render(JSON.parse(document.getElementById("live-snapshot").textContent));
  connect();
})();
