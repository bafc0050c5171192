/* The live dashboard: renders the embedded first snapshot, then every push from /ws/dashboard/. */
(function () {
  "use strict";
  const charts = window.ContextenCharts;
  const COLORS = { events: "#58a6ff", runs: "#3fb950", failed: "#f85149", p50: "#58a6ff", p95: "#d29922" };

  function el(tag, attrs) {
    const node = document.createElement(tag);
    const children = Array.prototype.slice.call(arguments, 2);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    children.forEach(function (child) {
      if (child === null || child === undefined) return;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    });
    return node;
  }
  const badge = function (state, text) { return el("span", { class: "badge " + state, text: text || state.replace("_", "-") }); };

  function ago(iso) {
    if (!iso) return "–";
    const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (seconds < 60) return Math.round(seconds) + "s ago";
    if (seconds < 3600) return Math.round(seconds / 60) + "m ago";
    if (seconds < 86400) return Math.round(seconds / 3600) + "h ago";
    return Math.round(seconds / 86400) + "d ago";
  }
  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 1) return Math.round(seconds * 1000) + " ms";
    if (seconds < 120) return seconds.toFixed(seconds < 10 ? 1 : 0) + " s";
    if (seconds < 7200) return (seconds / 60).toFixed(1) + " min";
    return (seconds / 3600).toFixed(1) + " h";
  }
  const percent = function (share) { return share === null || share === undefined ? "–" : (share * 100).toFixed(1) + " %"; };

  function table(headers, rows, empty, firstWidth) {
    if (!rows.length) return el("div", { class: "empty", text: empty });
    const head = el("tr", null, ...headers.map(function (h) { return el("th", { text: h }); }));
    const cols = el("colgroup", null, el("col", { style: "width:" + (firstWidth || "40%") }));
    return el("table", null, cols, head, ...rows);
  }
  function observed(value, unit) {
    if (typeof value !== "number") return String(value) + (unit && unit !== "state" ? " " + unit : "");
    return charts.format(value, unit || "");
  }
  function fill(panel, content) {
    document.querySelector("#panel-" + panel + " .body").replaceChildren(content);
  }

  function tile(label, value, sub, state, extra) {
    const attrs = Object.assign({ class: "tile " + (state || ""), "data-tile": label }, extra || {});
    return el("div", attrs, el("div", { class: "label", text: label }),
      el("div", { class: "value", text: value }), el("div", { class: "sub", text: sub || "" }));
  }

  // The server counts a queue up to a cap (health/queues.py): past it, "10,000+".
  function depth(queue) {
    return queue.depth.toLocaleString() + (queue.at_least ? "+" : "");
  }

  function renderTiles(s) {
    const q = s.queues, flight = Object.values(s.in_flight).reduce(function (a, b) { return a + b; }, 0);
    const firing = s.alerts.filter(function (a) { return a.state === "firing"; }).length;
    const cap = s.capacity;
    const capState = cap.headroom === null ? "" : cap.headroom < 0.2 ? "fail" : cap.headroom < 0.5 ? "warn" : "pass";
    document.getElementById("panel-kpis").replaceChildren(
      tile("Health", s.status.toUpperCase(), firing ? firing + " alert(s) firing" : "no alerts firing", s.status),
      tile("Events/s", s.rates.events.toFixed(2), s.totals.events_stored.toLocaleString() + " stored in all", "", { "data-total": s.totals.events_stored }),
      tile("Runs/s", s.rates.runs.toFixed(2), s.totals.runs_succeeded.toLocaleString() + " succeeded · " + s.totals.runs_failed.toLocaleString() + " failed"),
      tile("Event queue", depth(q.events), "oldest " + duration(q.events.oldest_age_seconds)),
      tile("Step queue", depth(q.steps), "oldest " + duration(q.steps.oldest_age_seconds)),
      tile("In flight", String(flight), "steps calling out now"),
      tile("MTTR", duration(s.reliability.mttr_seconds), "resolved incidents, 30 d"),
      tile("Recovery success", percent(s.reliability.recovery_success_rate), "executions, 30 d"),
      tile("Headroom", percent(cap.headroom), "p95 " + charts.format(cap.p95_ms, "ms") + " of " + cap.target_ms + " ms", capState)
    );
  }

  function renderCharts(s) {
    const c = s.charts, draw = function (panel, series, unit) {
      charts.lineChart(document.querySelector("#panel-" + panel + " .chart"), c.t, series, unit);
    };
    draw("throughput", [
      { name: "events/s", values: c.events, color: COLORS.events },
      { name: "runs/s", values: c.runs, color: COLORS.runs },
      { name: "failed runs/s", values: c.failed_runs, color: COLORS.failed }], "/s");
    draw("ingest-latency", [
      { name: "p50", values: c.ingest_p50, color: COLORS.p50 },
      { name: "p95", values: c.ingest_p95, color: COLORS.p95 }], "ms");
    draw("step-latency", [
      { name: "p50", values: c.step_p50, color: COLORS.p50 },
      { name: "p95", values: c.step_p95, color: COLORS.p95 }], "ms");
  }

  function renderComponents(s) {
    fill("components", table(["component", "status", "observed"], s.components.map(function (c) {
      const shown = c.value === null || c.value === undefined ? (c.output || "") : observed(c.value, c.unit);
      return el("tr", { "data-component": c.name, "data-status": c.status, title: c.output || c.name },
        el("td", { text: c.name }), el("td", null, badge(c.status)), el("td", { class: "num", text: shown }));
    }), "no checks have run yet"));
  }

  function renderBreakers(s) {
    fill("breakers", table(["platform", "state", "window", "fail rate", "probe in"], s.breakers.map(function (b) {
      return el("tr", { "data-breaker": b.platform, "data-state": b.state }, el("td", { text: b.platform }),
        el("td", null, badge(b.state)), el("td", { class: "num", text: b.calls + " calls" }),
        el("td", { class: "num", text: b.failure_rate.toFixed(1) + " %" }),
        el("td", { class: "num", text: b.retry_after ? duration(b.retry_after) : "–" }));
    }), "no breakers", "22%"));
  }

  function renderExtensions(s) {
    fill("extensions", table(["extension", "version", "state", "breaker", "in flight"], s.extensions.map(function (x) {
      return el("tr", { "data-extension": x.name, "data-enabled": x.enabled }, el("td", { text: x.name }),
        el("td", { class: "muted", text: x.version }),
        el("td", null, badge(x.enabled ? "pass" : "warn", x.enabled ? "enabled" : "disabled")),
        el("td", null, x.breaker ? badge(x.breaker) : "–"), el("td", { class: "num", text: x.in_flight }));
    }), "no extensions", "24%"));
  }

  function renderQueues(s) {
    const rows = Object.entries(s.queues).map(function (entry) {
      return el("tr", { "data-queue": entry[0] }, el("td", { text: entry[0] }),
        el("td", { class: "num", "data-depth": entry[1].depth, text: depth(entry[1]) }),
        el("td", { class: "num", text: duration(entry[1].oldest_age_seconds) }));
    });
    Object.entries(s.in_flight).forEach(function (entry) {
      rows.push(el("tr", null, el("td", { class: "muted", text: "in flight · " + entry[0] }),
        el("td", { class: "num", text: entry[1] }), el("td", { class: "num", text: "" })));
    });
    fill("queues", table(["queue", "depth", "oldest"], rows, "empty"));
  }

  function renderAlerts(s) {
    fill("alerts", table(["alert", "state", "since", "notified"], s.alerts.map(function (a) {
      return el("tr", { "data-alert": a.key, "data-state": a.state, title: a.summary },
        el("td", { class: "wrap" }, el("div", { text: a.summary }), el("div", { class: "muted", text: a.key })),
        el("td", null, badge(a.state)), el("td", { text: ago(a.starts_at) }),
        el("td", { class: "num", text: a.notifications + "×" }));
    }), "no alerts: all quiet", "52%"));
  }

  function renderRecoveries(s) {
    fill("recoveries", table(["action", "outcome", "for", "when"], s.recoveries.map(function (r) {
      return el("tr", { "data-recovery": r.id, title: r.detail || "" }, el("td", { text: r.recovery }),
        el("td", null, badge(r.outcome)), el("td", { class: "muted", text: r.check || "–" }),
        el("td", { text: ago(r.started_at) }));
    }), "no recovery actions yet", "34%"));
  }

  function renderCapacity(s) {
    const cap = s.capacity, share = cap.headroom === null ? 0 : cap.headroom;
    const bar = el("div", { class: "bar" }, el("span", { style: "width:" + (share * 100).toFixed(1) + "%" }));
    let crossing = "not on this trend";
    if (cap.crossing_in_seconds !== null) crossing = "in about " + duration(cap.crossing_in_seconds);
    else if (cap.headroom === 0) crossing = "now";
    const trend = cap.trend_ms_per_min === null ? "–" : (cap.trend_ms_per_min > 0 ? "+" : "") + cap.trend_ms_per_min + " ms/min";
    const load = cap.load_trend_per_min === null ? "–" : (cap.load_trend_per_min > 0 ? "+" : "") + cap.load_trend_per_min + " events/s per min";
    const facts = [["headroom", percent(cap.headroom)], ["p95 now (5 min)", charts.format(cap.p95_ms, "ms")],
      ["target", cap.target_ms + " ms"], ["p95 trend", trend], ["load trend", load], ["crosses target", crossing]];
    const list = el("dl", { class: "kv" });
    facts.forEach(function (f) { list.append(el("dt", { text: f[0] }), el("dd", { text: f[1] })); });
    fill("capacity", el("div", null, bar, list));
  }

  function renderFailures(s) {
    fill("failures", table(["run", "workflow", "error", "when"], s.failures.map(function (f) {
      return el("tr", { "data-run": f.id }, el("td", null, el("a", { href: f.url, text: "#" + f.id })),
        el("td", { text: f.workflow }), el("td", { title: f.error, text: f.error }), el("td", { text: ago(f.finished_at) }));
    }), "no failed runs", "9%"));
  }

  function renderRollouts(s) {
    fill("rollouts", table(["flag", "rollout", "next step", "guard", "state"], s.rollouts.map(function (r) {
      return el("tr", { "data-rollout": r.key }, el("td", null, el("a", { href: r.url, text: r.key })),
        el("td", { class: "num", text: r.percentage + " %" }), el("td", { class: "muted", text: r.next ? r.next.percentage + " % at " + r.next.at.slice(0, 16).replace("T", " ") : "–" }),
        el("td", null, r.guarded ? badge("info", "guarded") : "–"), el("td", null, badge(r.paused ? "warn" : "pass", r.paused ? "paused" : "ramping")));
    }), "no rollouts in progress", "28%"));
  }

  function render(s, when) {
    const overall = document.getElementById("overall");
    overall.className = "pill pill-" + s.status;
    overall.dataset.status = s.status;
    overall.textContent = s.status;
    document.getElementById("updated").textContent = new Date(when || Date.now()).toLocaleTimeString();
    [renderTiles, renderCharts, renderComponents, renderBreakers, renderExtensions, renderQueues,
      renderAlerts, renderRecoveries, renderCapacity, renderFailures, renderRollouts].forEach(function (f) { f(s); });
    window.dashboardState = s;
    window.dashboardRenders = (window.dashboardRenders || 0) + 1;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(scheme + "://" + location.host + "/ws/dashboard/");
    const state = document.getElementById("ws-state"), dot = document.getElementById("ws-dot");
    socket.onmessage = function (message) {
      const data = JSON.parse(message.data);
      if (data.type === "hello") { state.textContent = "live as " + data.user; dot.className = "dot live"; }
      else if (data.type === "snapshot") render(data.data);
      else if (data.type === "update") window.dashboardLastUpdate = data.payload;
    };
    socket.onclose = function () {
      state.textContent = "disconnected, retrying"; dot.className = "dot down";
      setTimeout(connect, 2000);
    };
  }

  const first = JSON.parse(document.getElementById("first-snapshot").textContent);
  render(first, first.time);
  let resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { renderCharts(window.dashboardState); }, 150);
  });
  connect();
})();
