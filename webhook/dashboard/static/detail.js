// canarist dashboard: the sections of the detail page that are tables (revisions and pods,
// routes, analysis, Events). ``h`` is app.js's element builder (textContent only).
"use strict";

(function () {
  function table(h, columns, rows, cls) {
    const t = h("table", { class: cls || "cards" });
    const head = t.createTHead().insertRow();
    for (const c of columns) head.appendChild(h("th", { scope: "col", text: c }));
    const body = t.createTBody();
    for (const r of rows) {
      const tr = body.insertRow();
      r.forEach((v, i) => {
        const td = h("td", { "data-label": columns[i] });
        if (v instanceof Node) td.appendChild(v);
        else td.textContent = v === null || v === undefined ? "-" : String(v);
        tr.appendChild(td);
      });
    }
    return t;
  }

  function muted(h, text) {
    return h("p", { class: "muted", text });
  }

  const ROLE = { canary: "Canary", stable: "Stable", previous: "Previous" };

  function revisions(box, d, h) {
    box.textContent = "";
    if (!d.revisions.length) { box.appendChild(muted(h, "No ReplicaSets found for this Deployment.")); return; }
    for (const rev of d.revisions) {
      const sets = rev.replicaSets;
      const numbers = sets.map((s) => s.revision).filter(Boolean);
      const title = `${ROLE[rev.role] || rev.role} ${rev.hash || ""}` + (numbers.length ? ` (revision ${numbers.join(", ")})` : "");
      const sec = h("section", { class: `revision revision-${rev.role}`, "data-role": rev.role });
      sec.appendChild(h("h3", { text: title }));
      sec.appendChild(h("p", { class: "muted", text: "Images: " + (rev.images.join(", ") || "-") }));
      const ready = sets.reduce((n, s) => n + s.ready, 0), want = sets.reduce((n, s) => n + s.replicas, 0);
      sec.appendChild(h("p", { text: `${ready} of ${want} pods ready` + (sets.length > 1 ? ` in ${sets.length} ReplicaSets` : "") }));
      if (rev.role === "previous" && numbers.length && d.actionsShown) {
        const n = Math.max(...numbers);
        const btn = h("button", { type: "button", "data-undo": n, text: `Undo to revision ${n}` });
        btn.addEventListener("click", () => window.CanaristUndo(d, n));
        sec.appendChild(btn);
      }
      const pods = sets.flatMap((s) => s.pods);
      if (d.hidden && d.hidden.includes("pods")) {
        sec.appendChild(muted(h, "Pods hidden: you may not list pods in this namespace."));
      } else if (pods.length) {
        sec.appendChild(table(h, ["Pod", "Ready", "Phase", "Restarts"], pods.map((p) => [
          p.name, (p.ready ? "✓ ready" : "✗ not ready") + (p.terminating ? " (terminating)" : ""), p.phase, p.restarts,
        ])));
      }
      box.appendChild(sec);
    }
  }

  function match(m) {
    if (m.headerName) {
      const [kind, value] = Object.entries(m.headerValue || {})[0] || ["", ""];
      return `header ${m.headerName} ${kind} "${value}"`;
    }
    const parts = [];
    for (const [field, v] of Object.entries(m)) {
      if (field === "headers") {
        for (const [name, hv] of Object.entries(v)) {
          const [kind, value] = Object.entries(hv)[0] || ["", ""];
          parts.push(`header ${name} ${kind} "${value}"`);
        }
      } else {
        const [kind, value] = Object.entries(v)[0] || ["", ""];
        parts.push(`${field} ${kind} "${value}"`);
      }
    }
    return parts.join(" and ");
  }

  function routes(box, d, h) {
    box.textContent = "";
    const r = d.routes;
    if (!r.headers.length && !r.mirrors.length) { box.appendChild(muted(h, "No header or mirror route in force.")); return; }
    const rows = [];
    for (const x of r.headers) rows.push(["header route", x.name, x.matches.map(match).join("; or ") || "-", "all matching requests to the canary"]);
    for (const x of r.mirrors) rows.push(["mirror route", x.name, x.matches.map(match).join("; or ") || "every request", `${x.percentage}% copied to the canary`]);
    box.appendChild(table(h, ["Kind", "Name", "Matches", "Effect"], rows));
  }

  function threshold(m) {
    const parts = [];
    if (m.min !== null && m.min !== undefined) parts.push(`≥ ${m.min}`);
    if (m.max !== null && m.max !== undefined) parts.push(`≤ ${m.max}`);
    return parts.join(" and ") || "no threshold";
  }

  function analysis(box, d, h) {
    box.textContent = "";
    if (!d.analysis.length) { box.appendChild(muted(h, "No analysis has run in this release.")); return; }
    for (const run of d.analysis) {
      const name = run.kind === "background" ? "Background analysis" : `Analysis of step ${run.step === null ? "?" : run.step + 1}`;
      box.appendChild(h("h3", { text: `${name}: ${run.phase}` }));
      if (run.message) box.appendChild(h("p", { text: run.message }));
      for (const m of run.metrics) {
        box.appendChild(h("p", {}, h("strong", { text: m.name }), ` (${m.provider || "?"}) must be ${threshold(m)}: ${m.phase}`));
        if (m.measurements.length) {
          box.appendChild(table(h, ["Time", "Value", "Threshold", "Verdict"], m.measurements.slice().reverse().map((x) => [
            x.at, x.value === null ? "-" : x.value, threshold(m), x.phase + (x.message ? ` — ${x.message}` : ""),
          ])));
        }
      }
    }
  }

  function events(box, d, h) {
    box.textContent = "";
    if (d.hidden && d.hidden.includes("events")) { box.appendChild(muted(h, "Events hidden: you may not list events in this namespace.")); return; }
    if (!d.events.length) { box.appendChild(muted(h, "No Events (they expire after an hour).")); return; }
    box.appendChild(table(h, ["Time", "Type", "Reason", "Object", "Message"], d.events.map((e) => [
      e.time, (e.type === "Warning" ? "⚠ " : "") + e.type, e.reason + (e.count > 1 ? ` ×${e.count}` : ""), e.object, e.message,
    ])));
  }

  window.CanaristDetail = { revisions, routes, analysis, events };
})();
