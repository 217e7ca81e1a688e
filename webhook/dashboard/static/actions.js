// canarist dashboard: the actions' confirmation dialog (what will happen, then Confirm or
// Cancel), undo's preview read fresh from the cluster, and sending an action. ``ctx`` gives
// app.js's helpers: $, h (textContent-only element builder), api, headers.
"use strict";

(function () {
  window.CanaristActions = function (ctx) {
    const { $, h, api, headers } = ctx;

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

    return { ask, askUndo };
  };
})();
