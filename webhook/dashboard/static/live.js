// canarist dashboard: server-sent events read with fetch (so a token travels in a header, never
// in a URL), with Last-Event-ID on reconnect, a watchdog for streams a proxy holds back, and
// the switch to polling after two failures in a row.
"use strict";

(function () {
  function openStream(url, on, opts) {
    let ctrl = null, lastId = null, failures = 0, stopped = false, timer = null;
    async function connect() {
      ctrl = new AbortController();
      let watchdog = null;
      const arm = (ms) => { clearTimeout(watchdog); watchdog = setTimeout(() => ctrl.abort(), ms); };
      let got = false;
      try {
        const hdrs = opts.headers({ Accept: "text/event-stream" });
        if (lastId !== null) hdrs["Last-Event-ID"] = lastId;
        arm(10000);
        const resp = await fetch(url, { headers: hdrs, signal: ctrl.signal, cache: "no-store" });
        if (resp.status === 401 && opts.unauthorized()) { stopped = true; return; }
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

  window.CanaristLive = { openStream };
})();
