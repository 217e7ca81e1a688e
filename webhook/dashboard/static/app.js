// canarist dashboard: list and detail pages, live over server-sent events (with a polling
// fallback), actions with confirmation. No framework, no CDN. Every value from the API is put
// in the page with textContent or as an attribute value: never parsed as markup.
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

  // --- server-sent events over fetch (headers allowed, so the token never goes in a URL) ------
  function openStream(url, on) {
    let ctrl = null, lastId = null, failures = 0, stopped = false, timer = null;
    async function connect() {
      ctrl = new AbortController();
      let watchdog = null;
      const arm = (ms) => { clearTimeout(watchdog); watchdog = setTimeout(() => ctrl.abort(), ms); };
      let got = false;
      try {
        const hdrs = headers({ Accept: "text/event-stream" });
        if (lastId !== null) hdrs["Last-Event-ID"] = lastId;
        arm(10000);
        const resp = await fetch(url, { headers: hdrs, signal: ctrl.signal, cache: "no-store" });
        if (resp.status === 401 && state.config.auth === "token") { stopped = true; askToken("The token was not accepted."); return; }
        if (!resp.ok || !resp.body) {
          let msg = `HTTP ${resp.status}`;
          try { msg = (await resp.json()).error || msg; } catch (e) { /* not JSON */ }
          throw new Error(msg);
        }
        const reader = resp.body.getReader();
        const decoder = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          arm(40000); // heartbeats come every 15 s
          if (!got) { got = true; failures = 0; on.state("live"); }
          buf += decoder.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            dispatch(buf.slice(0, i));
            buf = buf.slice(i + 2);
          }
        }
      } catch (e) {
        if (!stopped && e && e.name !== "AbortError") on.error(String(e.message || e));
      } finally {
        clearTimeout(watchdog);
      }
      if (stopped) return;
      failures = got ? 1 : failures + 1;
      if (failures >= 2) {
        on.state("polling");
        timer = setTimeout(connect, 60000); // try streaming again now and then
      } else {
        on.state("reconnecting");
        timer = setTimeout(connect, 1500);
      }
    }
    function dispatch(block) {
      let name = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const i = line.indexOf(":");
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
        if (field === "id") lastId = value;
        else if (field === "event") name = value;
        else if (field === "data") data += (data ? "\n" : "") + value;
      }
      if (!data) return;
      let doc;
      try { doc = JSON.parse(data); } catch (e) { return; }
      if (on[name]) on[name](doc);
    }
    connect();
    return { stop() { stopped = true; clearTimeout(timer); if (ctrl) ctrl.abort(); } };
  }

  function stopLive() {
    if (state.stream) state.stream.stop();
    if (state.poller) clearInterval(state.poller);
    state.stream = state.poller = null;
  }
  function startLive(url, on, poll) {
    stopLive();
    state.stream = openStream(url, Object.assign({
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
    }, on));
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

  function result(text, bad) {
    const el = $("d-result");
    el.textContent = text;
    el.className = "result" + (bad ? " bad" : "");
  }

  function base(d) {
    return `/api/v1/releases/${encodeURIComponent(d.namespace)}/${encodeURIComponent(d.name)}`;
  }

  async function send(d, label, path, body) {
    result(`${label}: sending…`, false);
    try {
      const r = await api(path, { method: "POST", headers: headers({ "X-Canarist-Request": "1", "Content-Type": "application/json" }), body: JSON.stringify(body || {}) });
      result(r.message, false);
    } catch (e) {
      if (e.message === "unauthorized") return;
      result(e.status === 403 && !/^Permission denied/.test(e.message) ? `Permission denied: ${e.message}` : e.message, true);
    }
  }

  // the confirmation: ``text`` says what will happen; ``onConfirm`` runs on Confirm only
  function confirmDialog(title, text, okLabel, onConfirm, extra) {
    const dialog = $("confirm");
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    $("confirm-extra").textContent = "";
    if (extra) $("confirm-extra").appendChild(extra);
    const ok = $("confirm-ok"), cancel = $("confirm-cancel");
    ok.textContent = okLabel;
    ok.disabled = !onConfirm;
    const done = () => { ok.onclick = cancel.onclick = null; };
    cancel.onclick = () => { dialog.close(); done(); };
    ok.onclick = () => { dialog.close(); done(); if (onConfirm) onConfirm(); };
    if (!dialog.open) dialog.showModal();
    cancel.focus();
  }

  function ask(d, a) {
    if (!a.allowed) { result(`${a.label} refused: ${a.reason}`, true); return; }
    if (a.action === "undo") { askUndo(d, null, false); return; }
    confirmDialog(`${a.label} ${d.namespace}/${d.name}?`, a.effect, a.label,
      () => send(d, a.label, `${base(d)}/${a.action}`, {}));
  }

  // undo: what it does is read fresh from the cluster (which revision, or why none)
  async function askUndo(d, revision, skip) {
    const q = new URLSearchParams();
    if (revision) q.set("toRevision", String(revision));
    if (skip) q.set("skipSteps", "1");
    const title = `Undo ${d.namespace}/${d.name}` + (revision ? ` to revision ${revision}?` : "?");
    let preview;
    try {
      preview = await api(`${base(d)}/undo?${q}`);
    } catch (e) {
      if (e.message !== "unauthorized") result(`Undo: ${e.message}`, true);
      return;
    }
    if (!preview.allowed) {
      confirmDialog(title, `Undo is refused: ${preview.reason}`, "Undo", null);
      return;
    }
    let extra = null;
    if (preview.kind === "release" || preview.kind === "skip") {
      const box = h("input", { type: "checkbox", id: "undo-skip" });
      box.checked = preview.kind === "skip";
      box.addEventListener("change", () => askUndo(d, revision, box.checked));
      extra = h("div", { class: "field check" }, box,
        h("label", { for: "undo-skip", text: "Skip the canary steps (promote-full)" }));
    }
    const body = {};
    if (revision) body.toRevision = revision;
    if (skip) body.skipSteps = true;
    confirmDialog(title, preview.effect, "Undo",
      preview.kind === "nothing" ? null : () => send(d, "Undo", `${base(d)}/undo`, body), extra);
  }
  window.CanaristUndo = (d, revision) => askUndo(d, revision, false);

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
