// A request's page, kept current: a pending request counts down to its expiry, and
// whenever the staff socket reports a change the page reads this request again
// (?format=json) and redraws its status, timeline and offers. No timer asks the server.
(function () {
  "use strict";
  var state = JSON.parse(document.getElementById("request-state").textContent);
  var offset = 0; // server clock minus this browser's clock
  var statusEl = document.getElementById("request-status");
  var countdown = document.getElementById("countdown");
  var timeline = document.getElementById("timeline");
  var offers = document.getElementById("offers-body");
  var liveStatus = document.getElementById("live-status");

  function el(tag, text, attrs) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (var name in attrs || {}) node.setAttribute(name, attrs[name]);
    return node;
  }

  function tick() {
    if (!state.pending) { countdown.hidden = true; return; }
    var seconds = Math.round((Date.parse(state.expires_at) - (Date.now() + offset)) / 1000);
    countdown.hidden = false;
    countdown.textContent = seconds > 0 ? "expires in " + seconds + " s" : "expiring…";
  }

  function render() {
    offset = Date.parse(state.now) - Date.now();
    statusEl.className = "pill " + state.status;
    statusEl.textContent = state.status + (state.expire_reason ? " · " + state.expire_reason : "");
    var mitra = document.getElementById("request-mitra");
    mitra.textContent = state.mitra ? "" : "—";
    if (state.mitra) mitra.appendChild(el("a", state.mitra.name, {href: state.mitra.url}));
    document.getElementById("request-to-accept").textContent = state.to_accept;
    timeline.textContent = "";
    state.timeline.forEach(function (entry) {
      var item = el("li");
      item.appendChild(el("time", entry.shown, {datetime: entry.at}));
      item.appendChild(document.createTextNode(" "));
      item.appendChild(el("span", entry.what, {"class": "what"}));
      if (entry.who) { item.appendChild(document.createTextNode(" ")); item.appendChild(el("span", entry.who, {"class": "who"})); }
      if (entry.detail) { item.appendChild(document.createTextNode(" ")); item.appendChild(el("small", entry.detail)); }
      timeline.appendChild(item);
    });
    offers.textContent = "";
    if (!state.offers.length) {
      var none = el("tr"); var td = el("td", "No mitra was offered this request.", {"class": "empty", colspan: "8"});
      none.appendChild(td); offers.appendChild(none);
    }
    state.offers.forEach(function (offer) {
      var row = el("tr");
      var name = el("td"); name.appendChild(el("a", offer.mitra, {href: offer.url})); row.appendChild(name);
      row.appendChild(el("td", offer.notified));
      var delivered = el("td", offer.delivered || "—");
      if (offer.delivered) { delivered.appendChild(document.createTextNode(" ")); delivered.appendChild(el("small", offer.via)); }
      row.appendChild(delivered);
      row.appendChild(el("td", offer.seen || "—"));
      row.appendChild(el("td", offer.answered || "—"));
      var response = el("td"); response.appendChild(el("span", offer.response, {"class": "pill " + offer.response}));
      row.appendChild(response);
      row.appendChild(el("td", offer.response_time === null ? "—" : offer.response_time.toFixed(1) + " s", {"class": "num"}));
      row.appendChild(el("td", offer.active_sessions, {"class": "num"}));
      offers.appendChild(row);
    });
    tick();
  }

  var reading = false, again = false;
  function reread() {
    if (reading) { again = true; return; }
    reading = true;
    fetch(location.pathname + "?format=json", {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (fresh) { if (fresh) { state = fresh; render(); } })
      .catch(function () {})
      .then(function () { reading = false; if (again) { again = false; reread(); } });
  }

  var retry = 500;
  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/ws/control-center/live/");
    socket.onopen = function () { retry = 500; liveStatus.textContent = "updating live"; };
    socket.onmessage = function () { reread(); }; // every frame says something may have changed
    socket.onclose = function (closed) {
      if (closed.code === 4403) { liveStatus.textContent = "signed out: reload to sign in"; return; }
      liveStatus.textContent = "reconnecting";
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  setInterval(tick, 1000);
  render();
  connect();
})();
