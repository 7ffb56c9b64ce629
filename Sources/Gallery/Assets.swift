/// The stylesheet and script every page uses, embedded in the binary and served from
/// /assets/NAME: nothing is loaded from the network.
enum Assets {
    static func named(_ name: Substring) -> (contentType: String, body: String)? {
        switch name {
        case "gallery.css": return ("text/css; charset=utf-8", css)
        case "gallery.js": return ("text/javascript; charset=utf-8", javascript)
        default: return nil
        }
    }

    static let css = """
        :root { color-scheme: light dark; --fg: #1d1d1f; --bg: #fafafa; --muted: #6b6b70; --line: #d9d9de; --accent: #b4541a; --cell: 168px; }
        @media (prefers-color-scheme: dark) { :root { --fg: #ececef; --bg: #18181b; --muted: #a0a0a8; --line: #3a3a40; --accent: #f08a4b; } }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--fg); background: var(--bg); }
        header { display: flex; gap: 1.5em; align-items: baseline; padding: .6em 1.2em; border-bottom: 1px solid var(--line); }
        header .brand { font-weight: 700; color: var(--accent); letter-spacing: .05em; }
        nav a { margin-right: 1em; color: var(--fg); text-decoration: none; }
        nav a[aria-current] { border-bottom: 2px solid var(--accent); }
        main { padding: 0 1.2em 2em; }
        footer { padding: .6em 1.2em; color: var(--muted); border-top: 1px solid var(--line); font-size: 13px; }
        h1 { font-size: 1.4em; margin: .7em 0 .4em; } h2 { font-size: 1.1em; margin: 1.2em 0 .4em; }
        a { color: var(--accent); }
        table { border-collapse: collapse; margin: .4em 0 1em; }
        th, td { padding: .25em .6em; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
        th { font-weight: 600; }
        td.value, pre { white-space: pre-wrap; word-break: break-word; }
        pre { background: rgba(127,127,127,.12); padding: .6em .8em; border-radius: 6px; max-width: 70em; }
        pre#render-command { word-break: normal; overflow-wrap: anywhere; }
        progress { width: 10em; vertical-align: middle; accent-color: var(--accent); }
        .failed { color: #c0392b; } .muted, .count { color: var(--muted); }
        .banner { padding: .5em .8em; border: 1px solid var(--accent); border-radius: 6px; display: inline-block; }
        form.inline, form.action { display: inline-block; margin: 0 .4em .4em 0; }
        form.filters label, form.axes label { margin-right: .8em; }
        input, select, button { font: inherit; }
        button { cursor: pointer; }
        table.grid { border-collapse: separate; border-spacing: 4px; }
        table.grid th { text-align: center; font-weight: 600; border: 0; max-width: var(--cell); overflow-wrap: anywhere; }
        table.grid th.y-label { text-align: right; }
        table.grid td { border: 0; padding: 0; width: var(--cell); min-width: var(--cell); height: var(--cell); background: rgba(127,127,127,.12); }
        table.grid td a { display: block; } table.grid td.many a { display: inline-block; }
        table.grid .expansion { display: block; font-size: 0.8em; overflow-wrap: anywhere; }
        table.grid td img { display: block; width: var(--cell); height: var(--cell); object-fit: contain; }
        table.grid td.many img { width: calc(var(--cell) / 2 - 2px); height: calc(var(--cell) / 2 - 2px); }
        .thumbs { display: flex; flex-wrap: wrap; gap: 10px; }
        .thumbs figure { margin: 0; width: 180px; }
        .thumbs img { width: 180px; height: 180px; object-fit: contain; background: rgba(127,127,127,.12); display: block; }
        .thumbs figcaption { font-size: 12px; color: var(--muted); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
        .image-page { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
        .image-page > .picture img { max-width: min(100%, 768px); height: auto; display: block; }
        .image-page > .facts { flex: 1 1 28em; min-width: 20em; }
        .compare { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
        .compare img { width: 100%; max-width: 640px; height: auto; }
        tr.differs td { background: rgba(240,138,75,.18); }
        .command { display: flex; gap: .5em; align-items: flex-start; }
        img.preview { height: 64px; width: auto; image-rendering: pixelated; vertical-align: middle; }
        #job-preview img.preview { height: 256px; }
        """

    static let javascript = """
        "use strict";
        (function () {
          function text(id, value) { var e = document.getElementById(id); if (e) { e.textContent = value; } }
          function update(s) {
            ["queued", "running", "done", "failed", "cancelled"].forEach(function (k) { text("count-" + k, String(s.counts[k] || 0)); });
            text("steps-left", String(s.stepsLeft)); text("queue-eta", s.eta); text("queue-paused", s.paused ? "paused" : "");
            var body = document.getElementById("running-jobs");
            if (!body) { return; }
            while (body.firstChild) { body.removeChild(body.firstChild); }
            s.running.forEach(function (r) {
              var tr = document.createElement("tr");
              var a = document.createElement("a"); a.href = "/jobs/" + r.job; a.textContent = "job " + r.job;
              var td = document.createElement("td"); td.appendChild(a); tr.appendChild(td);
              var bar = document.createElement("progress"); bar.max = Math.max(r.steps, 1); bar.value = r.step;
              td = document.createElement("td"); td.appendChild(bar); td.appendChild(document.createTextNode(" " + r.step + "/" + r.steps)); tr.appendChild(td);
              [r.worker || "", r.eta].forEach(function (v) { var c = document.createElement("td"); c.textContent = v; tr.appendChild(c); });
              var img = document.createElement("img"); img.className = "preview"; img.alt = "";
              img.onerror = function () { img.hidden = true; }; img.src = "/jobs/" + r.job + "/preview.png?step=" + r.step;
              td = document.createElement("td"); td.appendChild(img); tr.appendChild(td);
              body.appendChild(tr);
            });
            text("live-state", "updated " + new Date().toLocaleTimeString());
          }
          function poll() {
            fetch("/events?poll=1", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(update)
              .catch(function () { text("live-state", "not updating (server unreachable)"); });
          }
          // A running job without a preview (its worker makes none) shows no broken image.
          Array.prototype.forEach.call(document.querySelectorAll("img.preview"), function (img) {
            if (img.complete && !img.naturalWidth) { img.hidden = true; }
            img.addEventListener("error", function () { img.hidden = true; });
          });
          var live = document.getElementById("live");
          if (live) {
            var failures = 0;
            if (window.EventSource) {
              var source = new EventSource("/events");
              source.onmessage = function (e) { failures = 0; update(JSON.parse(e.data)); };
              source.onerror = function () {
                failures += 1;
                if (failures >= 3) { source.close(); text("live-state", "polling"); setInterval(poll, 5000); }
              };
            } else { setInterval(poll, 5000); }
          }
          Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), function (b) {
            b.addEventListener("click", function () {
              var target = document.getElementById(b.getAttribute("data-copy"));
              if (!target) { return; }
              var value = target.textContent;
              function done() { b.textContent = "Copied"; setTimeout(function () { b.textContent = "Copy"; }, 1500); }
              if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(value).then(done); return; }
              var range = document.createRange(); range.selectNodeContents(target);
              var selection = window.getSelection(); selection.removeAllRanges(); selection.addRange(range);
              try { document.execCommand("copy"); done(); } catch (e) { b.textContent = "Select and copy"; }
            });
          });
        })();
        """
}
