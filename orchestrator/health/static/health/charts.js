/* Plain-SVG line charts for the dashboard: no library, no CDN.
   lineChart(container, times, [{name, values, color}], unit) redraws the container. */
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";

  function svg(tag, attrs) {
    const node = document.createElementNS(NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    return node;
  }

  function niceMax(value) {
    if (!(value > 0)) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * power) return step * power;
    return 10 * power;
  }

  function format(value, unit) {
    if (value === null || value === undefined) return "–";
    const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
    return value.toFixed(digits) + (unit ? " " + unit : "");
  }

  function lastValue(values) {
    for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i];
    return null;
  }

  function path(values, x, y) {
    let d = "", pen = false;
    values.forEach(function (value, i) {
      if (value === null) { pen = false; return; }
      d += (pen ? "L" : "M") + x(i).toFixed(1) + "," + y(value).toFixed(1);
      pen = true;
    });
    return d;
  }

  function lineChart(container, times, series, unit) {
    const width = Math.max(container.clientWidth, 200), height = 150;
    const pad = { left: 40, right: 8, top: 8, bottom: 18 };
    const all = series.flatMap(function (s) { return s.values.filter(function (v) { return v !== null; }); });
    const top = niceMax(Math.max.apply(null, all.concat([0])));
    const n = Math.max(times.length - 1, 1);
    const x = function (i) { return pad.left + (i / n) * (width - pad.left - pad.right); };
    const y = function (v) { return pad.top + (1 - v / top) * (height - pad.top - pad.bottom); };
    const root = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img" });
    [0, 0.5, 1].forEach(function (share) {
      const level = top * share, yy = y(level);
      root.appendChild(svg("line", { x1: pad.left, x2: width - pad.right, y1: yy, y2: yy, class: "grid-line" }));
      const label = svg("text", { x: pad.left - 6, y: yy + 3, "text-anchor": "end", class: "axis" });
      label.textContent = format(level, "");
      root.appendChild(label);
    });
    [["-5m", 0, "start"], ["-2.5m", n / 2, "middle"], ["now", n, "end"]].forEach(function (tick) {
      const label = svg("text", { x: x(tick[1]), y: height - 4, "text-anchor": tick[2], class: "axis" });
      label.textContent = tick[0];
      root.appendChild(label);
    });
    series.forEach(function (s) {
      root.appendChild(svg("path", { d: path(s.values, x, y), fill: "none", stroke: s.color,
        "stroke-width": 1.6, "stroke-linejoin": "round", "data-series": s.name }));
    });
    const legend = document.createElement("div");
    legend.className = "legend";
    series.forEach(function (s) {
      const item = document.createElement("span");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = s.color;
      const value = document.createElement("b");
      value.textContent = format(lastValue(s.values), unit);
      item.append(swatch, s.name, value);
      legend.appendChild(item);
    });
    container.replaceChildren(root, legend);
  }

  window.ContextenCharts = { lineChart: lineChart, format: format };
})();
