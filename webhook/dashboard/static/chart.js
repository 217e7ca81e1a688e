// canarist dashboard: the weight chart and the rate chart, drawn as inline SVG (no library).
// Every text goes in with textContent; nothing from the API becomes markup.
"use strict";

(function () {
  const NS = "http://www.w3.org/2000/svg";
  const W = 720, M = { left: 44, right: 12, top: 12, bottom: 34 };

  function el(tag, attrs, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clock(seconds) {
    return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function span(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s < 120) return s + " s";
    if (s < 7200) return Math.round(s / 60) + " min";
    return (s / 3600).toFixed(1) + " h";
  }

  // x: time in [t0, t1] -> pixels; y: value in [0, top] -> pixels
  function scales(t0, t1, top, height) {
    const iw = W - M.left - M.right, ih = height - M.top - M.bottom;
    const dt = Math.max(1, t1 - t0);
    return {
      x: (t) => M.left + ((t - t0) / dt) * iw,
      y: (v) => M.top + ih - (v / top) * ih,
      iw, ih,
    };
  }

  function axes(svg, sc, t0, t1, top, ticks, unit, height) {
    for (const v of ticks) {
      const y = sc.y(v);
      svg.appendChild(el("line", { class: "grid", x1: M.left, x2: W - M.right, y1: y, y2: y }));
      svg.appendChild(el("text", { x: M.left - 6, y: y + 4, "text-anchor": "end" }, v + unit));
    }
    svg.appendChild(el("line", { class: "axis", x1: M.left, x2: M.left, y1: M.top, y2: height - M.bottom }));
    svg.appendChild(el("line", { class: "axis", x1: M.left, x2: W - M.right, y1: height - M.bottom, y2: height - M.bottom }));
    const labels = [[t0, "start"], [(t0 + t1) / 2, "middle"], [t1, "end"]];
    for (const [t, where] of labels) {
      const anchor = where === "start" ? "start" : where === "end" ? "end" : "middle";
      svg.appendChild(el("text", { x: sc.x(t), y: height - M.bottom + 14, "text-anchor": anchor }, clock(t)));
    }
  }

  // a step line: each value holds until the next point
  function stepPath(points, sc, value, t1) {
    let d = "";
    points.forEach((p, i) => {
      const x = sc.x(p[0]), y = sc.y(value(p));
      d += i === 0 ? `M${x},${y}` : `H${x}V${y}`;
    });
    if (points.length) d += `H${sc.x(t1)}`;
    return d;
  }

  function legend(items) {
    const ul = document.createElement("ul");
    ul.className = "legend";
    for (const [cls, text, marker] of items) {
      const li = document.createElement("li");
      const s = el("svg", { width: 34, height: 12, "aria-hidden": "true", class: "key" });
      s.appendChild(el("line", { class: cls, x1: 1, x2: 33, y1: 6, y2: 6 }));
      if (marker === "circle") s.appendChild(el("circle", { class: "pt-applied", cx: 17, cy: 6, r: 4 }));
      if (marker === "square") s.appendChild(el("rect", { class: "pt-set", x: 13, y: 2, width: 8, height: 8 }));
      li.appendChild(s);
      li.appendChild(document.createTextNode(text));
      ul.appendChild(li);
    }
    return ul;
  }

  // history: {release, points: [[t, set, applied, phase, step], ...]}
  function weights(container, history, now) {
    container.textContent = "";
    const points = (history && history.points) || [];
    if (!points.length) {
      const p = document.createElement("p");
      p.className = "muted";
      p.textContent = "No release recorded yet: the chart starts with the next release.";
      container.appendChild(p);
      return null;
    }
    const last = points[points.length - 1];
    const ended = last[3] === "Healthy";
    const t0 = points[0][0];
    const t1 = Math.max(ended ? last[0] : now, t0 + 30);
    const height = 260;
    const sc = scales(t0, t1, 100, height);
    const svg = el("svg", { class: "chart weights", viewBox: `0 0 ${W} ${height}`, role: "img",
      "aria-labelledby": "chart-title chart-desc" });
    svg.appendChild(el("title", { id: "chart-title" }, "Canary weight over time"));
    const changes = points.filter((p, i) => i === 0 || p[2] !== points[i - 1][2]);
    svg.appendChild(el("desc", { id: "chart-desc" }, `Applied weight went ${changes.map((p) => p[2] + "%").join(", ")} over ${span(t1 - t0)}.`));
    // phase bands along the bottom, labelled when wide enough
    points.forEach((p, i) => {
      const end = i + 1 < points.length ? points[i + 1][0] : t1;
      const x = sc.x(p[0]), w = Math.max(0, sc.x(end) - x);
      const rect = el("rect", { class: `band band-${p[3]}`, x, y: height - M.bottom - 10, width: w, height: 10 });
      rect.appendChild(el("title", {}, `${p[3]} for ${span(end - p[0])}`));
      svg.appendChild(rect);
      if (w > 60) svg.appendChild(el("text", { class: "band-label", x: x + 3, y: height - M.bottom - 2 }, p[3]));
    });
    axes(svg, sc, t0, t1, 100, [0, 25, 50, 75, 100], "%", height);
    svg.appendChild(el("path", { class: "set", d: stepPath(points, sc, (p) => p[1], t1) }));
    svg.appendChild(el("path", { class: "applied", d: stepPath(points, sc, (p) => p[2], t1) }));
    points.forEach((p, i) => {
      if (i > 0 && p[1] === points[i - 1][1]) return;
      const r = el("rect", { class: "pt-set", x: sc.x(p[0]) - 4, y: sc.y(p[1]) - 4, width: 8, height: 8,
        "data-weight": p[1], "data-at": p[0] });
      r.appendChild(el("title", {}, `${clock(p[0])}: step asks ${p[1]}%`));
      svg.appendChild(r);
    });
    for (const p of changes) {
      const c = el("circle", { class: "pt-applied", cx: sc.x(p[0]), cy: sc.y(p[2]), r: 5,
        "data-weight": p[2], "data-at": p[0] });
      c.appendChild(el("title", {}, `${clock(p[0])}: ${p[2]}% applied (${p[3]}, step ${p[4] + 1})`));
      svg.appendChild(c);
    }
    const fig = document.createElement("figure");
    fig.appendChild(svg);
    container.appendChild(fig);
    container.appendChild(legend([
      ["applied", "weight applied (solid, dots at each change)", "circle"],
      ["set", "weight the step asks for (dashed, squares)", "square"],
    ]));
    container.appendChild(table(points));
    return { t0, t1 };
  }

  // the points as a table, for screen readers and for reading exact values
  function table(points) {
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = `The ${points.length} recorded points as a table`;
    details.appendChild(summary);
    const t = document.createElement("table");
    const head = t.createTHead().insertRow();
    for (const h of ["Time", "Step asks", "Applied", "Phase", "Step"]) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = h;
      head.appendChild(th);
    }
    const body = t.createTBody();
    for (const p of points) {
      const row = body.insertRow();
      for (const v of [clock(p[0]), p[1] + "%", p[2] + "%", p[3], String(p[4] + 1)]) {
        row.insertCell().textContent = v;
      }
    }
    details.appendChild(t);
    return details;
  }

  // rates: {enabled, reason, problem, samples: [[t, stableReq, stableErr, canaryReq, canaryErr]]}
  function rates(container, info, range, now) {
    container.textContent = "";
    const note = document.createElement("p");
    note.className = "muted";
    if (!info || !info.enabled) {
      note.textContent = "Request and error rates: " + ((info && info.reason) || "not available") + ".";
      container.appendChild(note);
      return;
    }
    const samples = info.samples || [];
    if (info.problem) {
      note.textContent = "The proxy's admin endpoint did not answer: " + info.problem;
      container.appendChild(note);
    }
    if (!samples.length) {
      const p = document.createElement("p");
      p.className = "muted";
      p.textContent = `No request rates for route ${info.route} yet (sampled every few seconds while the dashboard runs).`;
      container.appendChild(p);
      return;
    }
    const t0 = range ? range.t0 : samples[0][0];
    const t1 = Math.max(range ? range.t1 : now, samples[samples.length - 1][0], t0 + 30);
    const top = Math.max(1, ...samples.map((s) => Math.max(s[1], s[3])));
    const height = 200;
    const sc = scales(t0, t1, top, height);
    const svg = el("svg", { class: "chart rates", viewBox: `0 0 ${W} ${height}`, role: "img",
      "aria-label": `Requests and errors per second by version, route ${info.route}` });
    const nice = top > 10 ? Math.ceil(top) : Math.round(top * 10) / 10;
    axes(svg, sc, t0, t1, top, [0, nice / 2, nice].map((v) => Math.round(v * 10) / 10), "/s", height);
    const series = [[1, "stable-req"], [3, "canary-req"], [2, "stable-err"], [4, "canary-err"]];
    for (const [i, cls] of series) {
      const d = samples.map((s, j) => `${j ? "L" : "M"}${sc.x(s[0])},${sc.y(s[i])}`).join("");
      svg.appendChild(el("path", { class: cls, d }));
    }
    container.appendChild(svg);
    const lastS = samples[samples.length - 1];
    container.appendChild(legend([
      ["stable-req", `stable requests/s (now ${lastS[1]})`],
      ["canary-req", `canary requests/s (now ${lastS[3]})`],
      ["stable-err", `stable errors/s (now ${lastS[2]})`],
      ["canary-err", `canary errors/s (now ${lastS[4]})`],
    ]));
  }

  window.CanaristChart = { weights, rates, span };
})();
