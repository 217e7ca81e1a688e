// canarist dashboard: list and detail pages, live over server-sent events (live.js, with a
// polling fallback), actions with confirmation (actions.js). No framework, no CDN. Every value
// from the API is put in the page with textContent or as an attribute value: never markup.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const PHASES = ["Healthy", "Progressing", "Paused", "Promoting", "Degraded", "Unknown"];
  const POLL_MS = 5000;
  const state = {
    config: null, token: null, rows: new Map(), offset: 0, detail: null, range: null,
    stream: null, poller: null, route: null, drawn: null, actionsFor: null,
  };

  // --- small DOM helpers ----------------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return node;
  }
  const now = () => Date.now() / 1000 + state.offset;
  function ago(seconds) {
    return window.CanaristChart.span(now() - seconds);
  }
  function phaseBadge(phase) {
    const p = PHASES.includes(phase) ? phase : "Unknown";
    return h("span", { class: `phase phase-${p}`, text: phase || "Unknown" });
  }
  function short(hash) {
    return hash ? h("span", { class: "hash", title: hash, text: hash }) : h("span", { class: "muted", text: "-" });
  }
  function show(view) {
    for (const id of ["token-view", "list-view", "detail-view"]) $(id).hidden = id !== view;
  }
  function problem(text) {
    $("problem").hidden = !text;
    $("problem").textContent = text || "";
  }
  function live(text) {
    $("live").textContent = text;
  }

  // --- the API ----------------------------------------------------------------------------------
  function headers(extra) {
    const out = Object.assign({ Accept: "application/json" }, extra || {});
    if (state.token) out.Authorization = "Bearer " + state.token;
    return out;
  }
  async function api(path, options) {
    const resp = await fetch(path, Object.assign({ headers: headers(), cache: "no-store" }, options || {}));
    let body = null;
    try { body = await resp.json(); } catch (e) { body = null; }
    if (resp.status === 401 && state.config && state.config.auth === "token") {
      askToken((body && body.error) || "The token was not accepted.");
      throw new Error("unauthorized");
    }
    if (!resp.ok) {
      const err = new Error((body && body.error) || `HTTP ${resp.status}`);
      err.status = resp.status;
      throw err;
    }
    return body;
  }

  function stopLive() {
    if (state.stream) state.stream.stop();
    if (state.poller) clearInterval(state.poller);
    state.stream = state.poller = null;
  }
  function startLive(url, on, poll) {
    stopLive();
    state.stream = window.CanaristLive.openStream(url, Object.assign({
      state(s) {
        if (s === "live") {
          live("Live");
          if (state.poller) { clearInterval(state.poller); state.poller = null; }
        } else if (s === "polling") {
          live(`Polling every ${POLL_MS / 1000} s (live updates unavailable)`);
          if (!state.poller) { poll(); state.poller = setInterval(poll, POLL_MS); }
        } else {
          live("Reconnecting…");
        }
      },
      error(msg) { live("Reconnecting… (" + msg + ")"); },
    }, on), {
      headers,
      unauthorized() {
        if (state.config.auth !== "token") return false;
        askToken("The token was not accepted.");
        return true;
      },
    });
  }

  // --- routing ----------------------------------------------------------------------------------
  function route() {
    const m = location.pathname.match(/^\/releases\/([^/]+)\/([^/]+)\/?$/);
    if (m) return { page: "detail", ns: decodeURIComponent(m[1]), name: decodeURIComponent(m[2]) };
    return { page: "list" };
  }
  function navigate(href, replace) {
    if (replace) history.replaceState(null, "", href);
    else history.pushState(null, "", href);
    render();
  }
  document.addEventListener("click", (ev) => {
    const a = ev.target.closest && ev.target.closest("a[href]");
    if (!a || a.origin !== location.origin || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button) return;
    if (!a.hasAttribute("data-nav")) return;
    ev.preventDefault();
    navigate(a.getAttribute("href"));
  });
  window.addEventListener("popstate", render);

  function render() {
    problem("");
    if (state.config.auth === "token" && !state.token) { askToken(""); return; }
    state.route = route();
    if (state.route.page === "detail") openDetail(state.route.ns, state.route.name);
    else openList();
  }

  // --- token ------------------------------------------------------------------------------------
  function askToken(message) {
    stopLive();
    state.token = null;
    sessionStorage.removeItem("canarist-token");
    $("forget").hidden = true;
    $("token-error").textContent = message || "";
    show("token-view");
    live("Signed out");
    $("token-input").focus();
  }
  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = $("token-input").value.trim();
    $("token-input").value = "";
    if (!value) return;
    state.token = value;
    sessionStorage.setItem("canarist-token", value);
    $("forget").hidden = false;
    render();
  });
  $("forget").addEventListener("click", () => askToken("Token forgotten."));

  // --- the list ---------------------------------------------------------------------------------
  function filters() {
    const q = new URLSearchParams(location.search);
    return { ns: q.get("ns") || "", phase: q.get("phase") || "", policy: q.get("policy") || "",
      attention: q.get("attention") === "1", q: q.get("q") || "" };
  }
  function attentionOf(row) {
    const out = [];
    if (row.phase === "Paused" || row.userPaused) out.push("paused");
    if (row.phase === "Degraded") out.push("degraded");
    if (typeof row.stuckAt === "number" && row.stuckAt <= now()) out.push("stuck");
    return out;
  }
  function matches(row, f) {
    if (f.ns && row.namespace !== f.ns) return false;
    if (f.phase && row.phase !== f.phase) return false;
    if (f.policy && row.policy !== f.policy) return false;
    if (f.attention && !attentionOf(row).length) return false;
    return !f.q || row.name.toLowerCase().includes(f.q.toLowerCase());
  }
  function syncFilterForm() {
    const f = filters();
    const rows = [...state.rows.values()];
    fillSelect($("f-ns"), "All namespaces", [...new Set(rows.map((r) => r.namespace))].sort(), f.ns);
    fillSelect($("f-phase"), "All phases", PHASES, f.phase);
    fillSelect($("f-policy"), "Any policy", [...new Set(rows.map((r) => r.policy).filter(Boolean))].sort(), f.policy);
    $("f-attention").checked = f.attention;
    if (document.activeElement !== $("f-q")) $("f-q").value = f.q;
  }
  function fillSelect(select, all, values, chosen) {
    const wanted = [""].concat(values);
    if (chosen && !wanted.includes(chosen)) wanted.push(chosen);
    const current = [...select.options].map((o) => o.value);
    if (current.join("\u0000") !== wanted.join("\u0000")) {
      select.textContent = "";
      for (const v of wanted) select.appendChild(h("option", { value: v, text: v || all }));
    }
    select.value = chosen;
  }
  $("filters").addEventListener("input", () => {
    const q = new URLSearchParams();
    const v = (id) => $(id).value.trim();
    if (v("f-ns")) q.set("ns", v("f-ns"));
    if (v("f-phase")) q.set("phase", v("f-phase"));
    if (v("f-policy")) q.set("policy", v("f-policy"));
    if ($("f-attention").checked) q.set("attention", "1");
    if (v("f-q")) q.set("q", v("f-q"));
    const s = q.toString();
    history.replaceState(null, "", location.pathname + (s ? "?" + s : ""));
    drawList();
  });
  $("filters").addEventListener("submit", (ev) => ev.preventDefault());

  function openList() {
    show("list-view");
    document.title = "Releases · canarist";
    drawList();
    const poll = async () => {
      try {
        const doc = await api("/api/v1/releases");
        state.offset = doc.serverTime - Date.now() / 1000;
        state.rows = new Map(doc.items.map((r) => [r.key, r]));
        problem("");
        drawList();
      } catch (e) { if (e.message !== "unauthorized") problem(e.message); }
    };
    startLive("/api/v1/stream", {
      snapshot(doc) {
        state.offset = doc.serverTime - Date.now() / 1000;
        state.rows = new Map(doc.items.map((r) => [r.key, r]));
        problem("");
        drawList();
      },
      changes(doc) {
        state.offset = doc.serverTime - Date.now() / 1000;
        for (const key of doc.deletes) state.rows.delete(key);
        for (const row of doc.upserts) state.rows.set(row.key, row);
        drawList();
      },
      error(msg) { live("Reconnecting…"); problem(msg); },
    }, poll);
  }

  function drawList() {
    if (state.route && state.route.page !== "list") return;
    syncFilterForm();
    const f = filters();
    const rows = [...state.rows.values()].filter((r) => matches(r, f))
      .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
    // keyed update: a row that did not change keeps its element (and the keyboard focus)
    const body = $("list").tBodies[0];
    const keys = rows.map((r) => r.key).join("\u0000");
    if (body.dataset.keys === keys && state.drawn) {
      rows.forEach((r, i) => {
        const tr = body.rows[i];
        if (state.drawn[i] !== r || tr.dataset.attention !== attentionOf(r).join(" ")) {
          body.replaceChild(listRow(r), tr); // changed, or became stuck as time passed
        }
      });
    } else {
      body.textContent = "";
      for (const r of rows) body.appendChild(listRow(r));
      body.dataset.keys = keys;
    }
    state.drawn = rows;
    const total = state.rows.size;
    $("list-count").textContent = rows.length === total
      ? `${total} release${total === 1 ? "" : "s"}`
      : `${rows.length} of ${total} releases match the filters`;
  }

  function listRow(r) {
    const cell = (label, ...content) => h("td", { "data-label": label }, ...content);
    const href = `/releases/${encodeURIComponent(r.namespace)}/${encodeURIComponent(r.name)}`;
    const flags = attentionOf(r).map((a) => h("span", { class: "flag", text: a }));
    const bar = h("span", { class: "bar", "aria-hidden": "true" }, h("span"));
    bar.firstChild.style.width = `${r.weight}%`;
    const weight = h("span", {}, `${r.weight}%`, r.setWeight !== null && r.setWeight !== r.weight ? ` of ${r.setWeight}%` : "", bar);
    return h("tr", { "data-key": r.key, "data-phase": r.phase, "data-attention": attentionOf(r).join(" ") },
      cell("Namespace", r.namespace),
      cell("Name", h("a", { href, "data-nav": true, text: r.name })),
      cell("Phase", phaseBadge(r.phase), r.userPaused ? " (paused by user)" : "", r.pendingAction ? ` · ${r.pendingAction} pending` : ""),
      cell("Step", r.stepText),
      cell("Weight", weight),
      cell("Stable", short(r.stableHash)),
      cell("Canary", short(r.canaryHash)),
      cell("Policy", r.policy || "-"),
      cell("Attention", ...(flags.length ? flags : ["-"])),
      h("td", { "data-label": "Message", class: "msg", text: r.message || "" }));
  }

  // --- the detail page --------------------------------------------------------------------------
  function openDetail(ns, name) {
    show("detail-view");
    document.title = `${ns}/${name} · canarist`;
    $("d-title").textContent = `${ns}/${name}`;
    const base = `/api/v1/releases/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`;
    const poll = async () => {
      try { drawDetail(await api(base)); problem(""); } catch (e) { if (e.message !== "unauthorized") problem(e.message); }
    };
    startLive(base + "/stream", {
      release(doc) { problem(""); drawDetail(doc); },
      rates(doc) { if (state.detail) { state.detail.rates = doc; window.CanaristChart.rates($("d-rates"), doc, state.range, now()); } },
      gone(doc) {
        problem(doc && doc.reason === "permission" ? "Permission denied: you may no longer read this Deployment."
          : `Deployment ${ns}/${name} is gone or no longer managed by canarist.`);
      },
      error(msg) { live("Reconnecting…"); problem(msg); },
    }, poll);
  }

  function drawDetail(d) {
    if (!state.route || state.route.page !== "detail") return;
    state.detail = d;
    state.offset = d.serverTime - Date.now() / 1000;
    drawSummary(d);
    drawActions(d);
    drawSteps(d);
    state.range = window.CanaristChart.weights($("d-chart"), d.history, now());
    window.CanaristChart.rates($("d-rates"), d.rates, state.range, now());
    drawPhases(d);
    d.actionsShown = !state.config.readOnly;
    window.CanaristDetail.revisions($("d-revisions"), d, h);
    window.CanaristDetail.routes($("d-routes"), d, h);
    window.CanaristDetail.analysis($("d-analysis"), d, h);
    window.CanaristDetail.events($("d-events"), d, h);
  }

  function drawSummary(d) {
    const dl = $("d-summary");
    dl.textContent = "";
    const add = (term, ...value) => { dl.appendChild(h("dt", { text: term })); dl.appendChild(h("dd", {}, ...value)); };
    add("Phase", h("span", { id: "d-phase" }, phaseBadge(d.phase)), d.userPaused ? " (paused by user)" : "");
    add("Step", d.steps ? `${d.stepText}` : "-");
    add("Weight", `${d.weight}% applied`, d.setWeight !== null && d.setWeight !== undefined ? ` · step asks ${d.setWeight}%` : "");
    add("Stable", short(d.stableHash));
    add("Canary", d.canaryHash ? short(d.canaryHash) : h("span", { class: "muted", text: "no release in progress" }));
    add("Images", (d.containers || []).map((c) => `${c.name}: ${c.image}`).join(", ") || "-");
    add("Routers", (d.routers || []).join(", ") || "-");
    if (d.policy) add("Policy", d.policy);
    if (d.pendingAction) add("Pending action", `${d.pendingAction} (waiting for the reconciler)`);
    if (d.message) add("Message", d.message);
    if (d.specProblem) add("Annotations", h("span", { class: "error", text: d.specProblem }));
    const flags = attentionOf(d);
    if (flags.length) add("Needs attention", flags.join(", "));
    if (d.startedAt) add("Started", `${d.startedAt} (${ago(Date.parse(d.startedAt) / 1000)} ago)`);
  }

  function drawActions(d) {
    const box = $("d-actions");
    if (state.config.readOnly) { box.textContent = ""; return; } // read-only: no buttons at all
    const shown = JSON.stringify([d.namespace, d.name, d.actions]);
    if (box.dataset.shown === shown) {
      // the same buttons: keep them (and the focus), only give them this document
      state.actionsFor = d;
      return;
    }
    box.dataset.shown = shown;
    box.textContent = "";
    state.actionsFor = d;
    for (const a of d.actions) {
      const reasonId = `why-${a.action}`;
      const btn = h("button", { type: "button", "data-action": a.action,
        "aria-disabled": a.allowed ? null : "true", "aria-describedby": a.allowed ? null : reasonId,
        title: a.allowed ? a.effect : `Not now: ${a.reason}` }, a.label);
      btn.addEventListener("click", () => ask(state.actionsFor || d, a));
      box.appendChild(btn);
      if (!a.allowed) box.appendChild(h("span", { id: reasonId, class: "sr-only", text: `${a.label} is not available: ${a.reason}` }));
    }
  }

  const actions = window.CanaristActions({ $, h, api, headers });
  const ask = actions.ask;
  window.CanaristUndo = (d, revision) => actions.askUndo(d, revision, false);

  function drawSteps(d) {
    const ol = $("d-steps");
    ol.textContent = "";
    if (!d.stepList.length) { ol.appendChild(h("li", { class: "muted", text: "No steps (see the annotations)." })); return; }
    for (const s of d.stepList) {
      const li = h("li", { class: s.state, "aria-current": s.state === "current" ? "step" : null }, s.text);
      if (s.state === "current") li.appendChild(h("span", { class: "sr-only", text: " (current step)" }));
      if (s.endsAt) li.appendChild(h("span", { class: "countdown", "data-ends-at": s.endsAt }));
      ol.appendChild(li);
    }
    tick();
  }
  function tick() {
    for (const el of document.querySelectorAll("[data-ends-at]")) {
      const left = Number(el.getAttribute("data-ends-at")) - now();
      el.textContent = left > 0 ? `— ends in ${window.CanaristChart.span(left)}` : "— ending";
    }
  }
  setInterval(tick, 1000);
  setInterval(() => { if (state.route && state.route.page === "list") drawList(); }, 30000);

  function drawPhases(d) {
    const box = $("d-phases");
    box.textContent = "";
    if (!d.phaseTimes.length) { box.appendChild(h("p", { class: "muted", text: "No release recorded yet." })); return; }
    const t = h("table", { class: "phases" });
    const head = t.createTHead().insertRow();
    for (const c of ["Phase", "Time"]) head.appendChild(h("th", { scope: "col", text: c }));
    const body = t.createTBody();
    for (const p of d.phaseTimes) {
      const row = body.insertRow();
      row.insertCell().appendChild(phaseBadge(p.phase));
      row.insertCell().textContent = window.CanaristChart.span(p.seconds);
    }
    box.appendChild(t);
  }

  // --- start ------------------------------------------------------------------------------------
  async function start() {
    try {
      state.config = await api("/api/v1/config");
    } catch (e) {
      problem("The dashboard's server did not answer: " + e.message);
      return;
    }
    const mode = [];
    if (state.config.readOnly) mode.push("read-only");
    if (state.config.auth === "token") mode.push("your own token");
    $("mode").textContent = mode.join(" · ");
    if (state.config.auth === "token") {
      state.token = sessionStorage.getItem("canarist-token");
      $("forget").hidden = !state.token;
    }
    render();
  }
  start();
})();
