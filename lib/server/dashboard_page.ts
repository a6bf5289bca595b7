/**
 * The dashboard page served at `/ui`: HTML, CSS and script in one string, so the compiled
 * binary carries it and nothing is fetched from elsewhere. The script reads the live feed
 * `/ui/api/events` (with fetch, so the key goes in a header), whose first event is the whole
 * state, so no request is missed between the two;
 * with ANTHROPIC_API_KEY set it asks for the key once and keeps it in sessionStorage.
 * Everything shown is set as text, never as HTML: model names and error messages come from
 * clients and upstreams.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>claude-code-proxy</title>
<style>
:root { --fg: #1d1f23; --muted: #6b7078; --line: #e3e5e8; --bg: #f7f8fa; --card: #fff;
  --accent: #c96442; --ok: #2f8f4e; --bad: #c0392b; --tok: #6c8ebf; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
  background: var(--bg); }
header { display: flex; align-items: center; gap: 12px; padding: 12px 20px; background: var(--card);
  border-bottom: 1px solid var(--line); }
header h1 { font-size: 16px; margin: 0; }
header .muted { margin-left: auto; }
.dot { width: 10px; height: 10px; border-radius: 50%; background: var(--muted); display: inline-block; }
.dot.live { background: var(--ok); }
main { padding: 16px 20px; display: grid; gap: 16px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 12px; }
.card, section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card .v { font-size: 22px; font-weight: 600; }
.muted { color: var(--muted); }
h2 { font-size: 14px; margin: 0 0 8px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 500; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.err td { background: #fdf1ef; }
td.msg { color: var(--bad); max-width: 420px; word-break: break-word; }
.scroll { max-height: 480px; overflow: auto; }
canvas { width: 100%; height: 220px; display: block; }
pre { margin: 0; font-size: 12px; white-space: pre-wrap; }
#login { max-width: 420px; margin: 60px auto; }
#login input { width: 100%; padding: 8px; font: inherit; margin: 8px 0; }
#login button { padding: 8px 14px; font: inherit; }
.legend span { margin-right: 14px; }
.sw { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
[hidden] { display: none !important; }
</style>
</head>
<body>
<header><span id="live" class="dot" title="live feed"></span><h1>claude-code-proxy</h1>
<span id="version" class="muted"></span><span id="historyState" class="muted"></span></header>
<div id="login" class="card" hidden>
<h2>API key</h2>
<p class="muted">This proxy requires its ANTHROPIC_API_KEY. It is kept in this browser tab only.</p>
<form id="loginForm"><input id="key" type="password" autocomplete="off" placeholder="ANTHROPIC_API_KEY">
<button type="submit">Open dashboard</button></form>
<p id="loginError" class="muted"></p>
</div>
<main id="app" hidden>
<div class="cards">
<div class="card"><div class="muted">Requests today</div><div class="v" id="cRequests">0</div></div>
<div class="card"><div class="muted">Tokens today (in / out / cached)</div><div class="v" id="cTokens">0</div></div>
<div class="card"><div class="muted">Cost today</div><div class="v" id="cCost">—</div></div>
<div class="card"><div class="muted">Error rate (24 h)</div><div class="v" id="cErrors">0%</div></div>
<div class="card"><div class="muted">Open streams</div><div class="v" id="cOpen">0</div></div>
</div>
<section><h2>Tokens and cost, last 24 hours</h2>
<div class="legend muted"><span><i class="sw" style="background:#6c8ebf"></i>input</span>
<span><i class="sw" style="background:#9cc3a0"></i>output</span><span><i class="sw" style="background:#d9c27a"></i>cached</span>
<span><i class="sw" style="background:#c96442"></i>cost (a gap: an hour with a model of unknown price)</span></div>
<canvas id="chart" width="1000" height="220"></canvas></section>
<section><h2>Recent requests</h2><div class="scroll"><table id="recent"><thead><tr>
<th>time</th><th>model</th><th>fallbacks</th><th>stream</th><th class="n">status</th><th class="n">in</th>
<th class="n">out</th><th class="n">cached</th><th class="n">TTFT</th><th class="n">duration</th><th class="n">cost</th><th>error</th>
</tr></thead><tbody></tbody></table></div></section>
<section><h2>Open streams</h2><table id="open"><thead><tr><th>since</th><th>model</th><th>request</th></tr></thead>
<tbody></tbody></table></section>
<section><h2>Totals by provider and model</h2><table id="totals"><thead><tr><th>provider/model</th>
<th class="n">today</th><th class="n">tokens today</th><th class="n">cost today</th><th class="n">7 days</th>
<th class="n">tokens 7 days</th><th class="n">cost 7 days</th><th class="n">errors 7 days</th></tr></thead><tbody></tbody></table></section>
<section><h2>Configuration</h2><pre id="config"></pre></section>
</main>
<script>
"use strict";
(function () {
  var DAY = 86400000, HOUR = 3600000, MAX_ROWS = 200;
  var KEY_NAME = "ccp-dashboard-key";
  var state = null, feedAbort = null, retryMs = 500;
  var $ = function (id) { return document.getElementById(id); };

  function key() { return sessionStorage.getItem(KEY_NAME) || ""; }
  function headers() { var k = key(); return k ? { "x-api-key": k } : {}; }
  function fmtInt(n) { return (n || 0).toLocaleString("en-US"); }
  function fmtCost(c) {
    if (c === null || c === undefined) return "\\u2014";
    // Two significant digits below a cent: a known cost never reads as $0.0000.
    if (c > 0 && c < 0.01) return "$" + c.toFixed(Math.min(8, 1 - Math.floor(Math.log10(c))));
    return "$" + c.toFixed(2);
  }
  function fmtMs(ms) {
    if (ms === undefined || ms === null) return "";
    return ms < 1000 ? Math.round(ms) + " ms" : (ms / 1000).toFixed(1) + " s";
  }
  function fmtTime(t) { return new Date(t).toLocaleTimeString(); }
  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text === undefined || text === null ? "" : String(text);
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }
  function addCost(a, b) { return a === null || b === null ? null : a + b; }

  function showLogin(message) {
    $("app").hidden = true;
    $("login").hidden = false;
    $("loginError").textContent = message || "";
    $("key").focus();
  }

  $("loginForm").addEventListener("submit", function (e) {
    e.preventDefault();
    sessionStorage.setItem(KEY_NAME, $("key").value.trim());
    $("key").value = "";
    load();
  });

  // The feed's first event is the whole state: (re)connecting is (re)loading.
  function load() { connect(); }

  function applyState(s) {
    state = s;
    $("login").hidden = true;
    $("app").hidden = false;
    $("version").textContent = "v" + s.version;
    $("historyState").textContent = "history: " + s.history;
    $("config").textContent = JSON.stringify(s.config, null, 2);
    var body = $("recent").tBodies[0];
    body.textContent = "";
    for (var i = s.recent.length - 1; i >= 0; i--) addRow(s.recent[i]);
    renderOpen();
    renderTotals();
  }

  function addRow(r) {
    var tr = document.createElement("tr");
    tr.dataset.id = r.id;
    if (r.status >= 400) tr.className = "err";
    cell(tr, fmtTime(r.time));
    cell(tr, (r.requestedModel || "?") + " \\u2192 " + (r.target || "(not sent upstream)"));
    cell(tr, (r.attempts || []).join("; "));
    cell(tr, r.stream === undefined ? "" : r.stream ? "yes" : "no");
    cell(tr, r.status, "n");
    var counted = r.inputTokens !== undefined || r.outputTokens !== undefined;
    cell(tr, counted ? fmtInt(r.inputTokens) : "", "n");
    cell(tr, counted ? fmtInt(r.outputTokens) : "", "n");
    cell(tr, counted ? fmtInt(r.cachedTokens) : "", "n");
    cell(tr, fmtMs(r.ttftMs), "n");
    cell(tr, fmtMs(r.durationMs), "n");
    // A request that never reached an upstream (refused, invalid) cost nothing: known, not blank.
    cell(tr, counted ? fmtCost(r.cost) : r.target ? "" : fmtCost(0), "n");
    cell(tr, r.error ? r.error.type + ": " + r.error.message : "", "msg");
    var body = $("recent").tBodies[0];
    body.insertBefore(tr, body.firstChild);
    while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
  }

  // t: the sums the feed sends (requests, errors, tokens, cost) for one hour and target.
  function bump(list, bucket, t) {
    var target = t.target || "";
    var x = null;
    for (var i = 0; i < list.length; i++) {
      if (list[i].bucket === bucket && list[i].target === target) { x = list[i]; break; }
    }
    if (!x) {
      x = { bucket: bucket, target: target, requests: 0, errors: 0, input: 0, output: 0, cached: 0, cost: 0 };
      list.push(x);
    }
    x.requests += t.requests;
    x.errors += t.errors;
    x.input += t.input;
    x.output += t.output;
    x.cached += t.cached;
    x.cost = addCost(x.cost, t.cost);
  }

  // What one read of the feed brought; the page is drawn again once for all of it.
  function onEvent(event, value, dirty) {
    if (event === "request") {
      state.open = state.open.filter(function (o) { return o.id !== value.id; });
      state.openCount = 0;
      addRow(value);
      dirty.open = true;
    } else if (event === "open") {
      state.open.push(value);
      state.openCount = 0;
      dirty.open = true;
    } else if (event === "streams") {
      state.open = value.open;
      state.openCount = value.count;
      dirty.open = true;
    } else if (event === "totals") {
      value.hours.forEach(function (t) {
        bump(state.days, Math.floor(t.bucket / DAY) * DAY, t);
        bump(state.hours, t.bucket, t);
      });
      dirty.totals = true;
    }
  }

  function renderOpen() {
    var body = $("open").tBodies[0];
    body.textContent = "";
    state.open.forEach(function (o) {
      var tr = document.createElement("tr");
      cell(tr, fmtTime(o.time));
      cell(tr, (o.requestedModel || "?") + " \\u2192 " + (o.target || "?"));
      cell(tr, o.id);
      body.appendChild(tr);
    });
    // Past a hundred open streams the feed lists only some of them; its count is all of them.
    $("cOpen").textContent = String(state.openCount || state.open.length);
  }

  function renderTotals() {
    var now = Date.now();
    var today = Math.floor(now / DAY) * DAY;
    var rows = {}, req = 0, tin = 0, tout = 0, tcached = 0, cost = 0, seen = false;
    state.days.forEach(function (d) {
      var r = rows[d.target] || (rows[d.target] = { today: 0, tokToday: 0, costToday: 0, week: 0, tokWeek: 0, costWeek: 0, errors: 0 });
      var tokens = d.input + d.output + d.cached;
      r.week += d.requests; r.tokWeek += tokens; r.costWeek = addCost(r.costWeek, d.cost); r.errors += d.errors;
      if (d.bucket === today) {
        r.today += d.requests; r.tokToday += tokens; r.costToday = addCost(r.costToday, d.cost);
        req += d.requests; tin += d.input; tout += d.output; tcached += d.cached;
        cost = addCost(cost, d.cost); seen = true;
      }
    });
    $("cRequests").textContent = fmtInt(req);
    $("cTokens").textContent = fmtInt(tin) + " / " + fmtInt(tout) + " / " + fmtInt(tcached);
    $("cCost").textContent = seen ? fmtCost(cost) : "\\u2014";
    var hReq = 0, hErr = 0;
    state.hours.forEach(function (h) { if (h.bucket > now - 24 * HOUR) { hReq += h.requests; hErr += h.errors; } });
    $("cErrors").textContent = hReq ? (100 * hErr / hReq).toFixed(1) + "%" : "0%";
    var body = $("totals").tBodies[0];
    body.textContent = "";
    Object.keys(rows).sort().forEach(function (target) {
      var r = rows[target], tr = document.createElement("tr");
      cell(tr, target || "(not sent upstream)");
      cell(tr, fmtInt(r.today), "n"); cell(tr, fmtInt(r.tokToday), "n"); cell(tr, r.today ? fmtCost(r.costToday) : "", "n");
      cell(tr, fmtInt(r.week), "n"); cell(tr, fmtInt(r.tokWeek), "n"); cell(tr, fmtCost(r.costWeek), "n");
      cell(tr, fmtInt(r.errors), "n");
      body.appendChild(tr);
    });
    drawChart();
  }

  function drawChart() {
    var canvas = $("chart");
    var ratio = window.devicePixelRatio || 1;
    var w = canvas.clientWidth || 1000, h = canvas.clientHeight || 220;
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(h * ratio);
    var g = canvas.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, w, h);
    var now = Date.now(), first = Math.floor(now / HOUR) * HOUR - 23 * HOUR;
    var slots = [];
    for (var i = 0; i < 24; i++) slots.push({ t: first + i * HOUR, input: 0, output: 0, cached: 0, cost: 0, unknown: false });
    state.hours.forEach(function (x) {
      var k = Math.round((x.bucket - first) / HOUR);
      if (k < 0 || k >= 24) return;
      slots[k].input += x.input; slots[k].output += x.output; slots[k].cached += x.cached;
      // An hour with a model of unknown price has no known cost: a gap in the line, never $0.
      if (x.cost === null) slots[k].unknown = true; else slots[k].cost += x.cost;
    });
    var pad = { l: 56, r: 56, t: 10, b: 22 };
    var maxTok = 1, maxCost = 0;
    slots.forEach(function (s) { maxTok = Math.max(maxTok, s.input + s.output + s.cached); maxCost = Math.max(maxCost, s.cost); });
    var cw = (w - pad.l - pad.r) / 24, ch = h - pad.t - pad.b;
    g.strokeStyle = "#e3e5e8"; g.fillStyle = "#6b7078"; g.font = "11px system-ui, sans-serif";
    g.beginPath(); g.moveTo(pad.l, h - pad.b + 0.5); g.lineTo(w - pad.r, h - pad.b + 0.5); g.stroke();
    g.fillText(fmtInt(maxTok), 4, pad.t + 10);
    g.fillText("0", 4, h - pad.b);
    if (maxCost > 0) g.fillText(fmtCost(maxCost), w - pad.r + 4, pad.t + 10);
    var bars = 0;
    slots.forEach(function (s, k) {
      var x = pad.l + k * cw + 2, y = h - pad.b;
      [["input", "#6c8ebf"], ["output", "#9cc3a0"], ["cached", "#d9c27a"]].forEach(function (p) {
        var v = s[p[0]];
        if (!v) return;
        var bh = ch * v / maxTok;
        g.fillStyle = p[1];
        g.fillRect(x, y - bh, Math.max(1, cw - 4), bh);
        y -= bh;
        bars++;
      });
      if (k % 3 === 0) {
        g.fillStyle = "#6b7078";
        // The hour's local time as the browser tells it, half-hour time zones included.
        g.fillText(new Date(s.t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }), x, h - 6);
      }
    });
    var gaps = 0;
    if (maxCost > 0) {
      g.strokeStyle = "#c96442"; g.lineWidth = 2; g.beginPath();
      var pen = false;
      slots.forEach(function (s, k) {
        if (s.unknown) { pen = false; gaps++; return; }
        var x = pad.l + k * cw + cw / 2, y = h - pad.b - ch * s.cost / maxCost;
        if (pen) g.lineTo(x, y); else g.moveTo(x, y);
        pen = true;
      });
      g.stroke(); g.lineWidth = 1;
    } else {
      slots.forEach(function (s) { if (s.unknown) gaps++; });
    }
    canvas.dataset.bars = String(bars);
    canvas.dataset.costGaps = String(gaps);
    canvas.dataset.drawn = String(Number(canvas.dataset.drawn || "0") + 1);
  }

  function connect() {
    if (feedAbort) feedAbort.abort();
    var ctrl = new AbortController();
    feedAbort = ctrl;
    fetch("/ui/api/events", { headers: headers(), signal: ctrl.signal, cache: "no-store" }).then(function (res) {
      if (res.status === 401) {
        var tried = key() !== "";
        sessionStorage.removeItem(KEY_NAME);
        showLogin(tried ? "That key was not accepted." : "");
        return;
      }
      if (!res.ok || !res.body) throw new Error("HTTP " + res.status);
      $("live").className = "dot live";
      retryMs = 500;
      var reader = res.body.getReader(), decoder = new TextDecoder(), buffer = "";
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) throw new Error("feed ended");
          buffer += decoder.decode(chunk.value, { stream: true }).replace(/\\r\\n?/g, "\\n");
          var at, dirty = {};
          while ((at = buffer.indexOf("\\n\\n")) >= 0) {
            var block = buffer.slice(0, at);
            buffer = buffer.slice(at + 2);
            var event = "message", data = "";
            block.split("\\n").forEach(function (line) {
              if (line.indexOf("event:") === 0) event = line.slice(6).trim();
              else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
            });
            if (data && event === "state") applyState(JSON.parse(data));
            else if (data && state) onEvent(event, JSON.parse(data), dirty);
          }
          if (dirty.open) renderOpen();
          if (dirty.totals) renderTotals();
          return pump();
        });
      }
      return pump();
    }).catch(function (err) {
      if (ctrl.signal.aborted) return;
      $("live").className = "dot";
      console.warn("live feed:", err && err.message);
      // Reconnecting brings the whole state again: events missed meanwhile are in it.
      setTimeout(connect, Math.min(retryMs *= 2, 30000));
    });
  }

  window.addEventListener("resize", function () { if (state) drawChart(); });
  load();
})();
</script>
</body>
</html>
`;
