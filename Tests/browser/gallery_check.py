"""The browser half of Tests/browser/gallery.sh: drives headless Chromium (DevTools port
argv[1]) over `kiln serve` (argv[2], a base URL) on a rendered sweep, checks the grid and an
image page against the queue read with `kiln report` (argv[3] the kiln binary, argv[4] the
database) and saves screenshots into argv[5]."""
import csv
import io
import json
import subprocess
import sys

from cdp import CDP

devtools, base, kiln, db, artifacts = sys.argv[1:6]
passed, failed = 0, 0


def check(condition, what):
    global passed, failed
    if condition:
        passed += 1
        print(f"ok   {what}")
    else:
        failed += 1
        print(f"FAIL {what}")


def report(sql):
    out = subprocess.run([kiln, "report", "--db", db, "--format", "csv", "--sql", sql], check=True, capture_output=True, text=True).stdout
    return list(csv.DictReader(io.StringIO(out)))


browser = CDP(int(devtools))
browser.send("Emulation.setDeviceMetricsOverride", width=1000, height=900, deviceScaleFactor=1, mobile=False)

# The queue page updates itself from the server-sent events.
browser.send("Page.navigate", url=f"{base}/")
browser.wait_for("document.readyState === 'complete' && location.pathname === '/'")
browser.wait_for("document.getElementById('live-state').textContent.startsWith('updated')", timeout=15)
live = browser.evaluate("document.getElementById('count-done').textContent")
check(live == str(int(report("SELECT COUNT(*) AS n FROM v_jobs WHERE state = 'done'")[0]["n"])), f"the live queue page shows {live} jobs done")

# The grid: schedulers across, seeds down, one grid per guidance.
browser.send("Page.navigate", url=f"{base}/sweeps/1?x=scheduler&y=seed")
browser.wait_for("document.readyState === 'complete' && location.pathname === '/sweeps/1'")
browser.wait_for("Array.from(document.images).every(i => i.complete)")
grid = browser.evaluate("""(() => {
  const values = s => Array.from(document.querySelectorAll(s)).map(e => e.dataset.value);
  return {x: values('th.x-label'), y: values('th.y-label'),
          z: Array.from(document.querySelectorAll('h2.z-label')).map(e => e.textContent),
          images: Array.from(document.querySelectorAll('table.grid img')).map(i => ({src: i.getAttribute('src'), width: i.naturalWidth})),
          headers: Array.from(document.querySelectorAll('th.x-label, th.y-label')).map(e => e.textContent)};
})()""")
schedulers = sorted(r["scheduler"] for r in report("SELECT DISTINCT scheduler FROM v_outputs WHERE sweep_id = 1"))
seeds = sorted((r["seed"] for r in report("SELECT DISTINCT seed FROM v_outputs WHERE sweep_id = 1")), key=int)
guidances = sorted((r["guidance"] for r in report("SELECT DISTINCT guidance FROM v_outputs WHERE sweep_id = 1")), key=float)
count = int(report("SELECT COUNT(*) AS n FROM v_outputs WHERE sweep_id = 1")[0]["n"])
check(grid["x"] == schedulers * len(guidances), f"column labels are the sweep's schedulers {schedulers}, per grid: {grid['x']}")
check(grid["y"] == seeds * len(guidances), f"row labels are the sweep's seeds {seeds}, per grid: {grid['y']}")
check(grid["z"] == [f"guidance={float(g):g}" for g in guidances], f"one grid per guidance {guidances}: {grid['z']}")
check(all(h.startswith(("scheduler=", "seed=")) for h in grid["headers"]), "labels name their parameter")
check(len(grid["images"]) == count, f"{count} thumbnails on the page: {len(grid['images'])}")
check(all(i["width"] > 0 for i in grid["images"]), "every thumbnail loaded (naturalWidth > 0)")
first = browser.evaluate("(() => { const t = document.querySelector('table.grid'); const r = t.getBoundingClientRect(); "
                         "return {x: r.x, y: r.y, width: r.width, height: r.height}; })()")
browser.screenshot(f"{artifacts}/grid.png", clip={"x": 0, "y": 0, "width": min(1000, first["x"] + first["width"] + 20),
                                                  "height": min(900, first["y"] + first["height"] + 20)})

# Click the cell of seed 2, dpmpp-2m (first grid) with the mouse.
cell = browser.evaluate("""(() => {
  const t = document.querySelector('table.grid');
  const col = Array.from(t.querySelectorAll('th.x-label')).findIndex(e => e.dataset.value === 'dpmpp-2m');
  const row = Array.from(t.querySelectorAll('tbody tr')).find(r => r.querySelector('th.y-label').dataset.value === '2');
  const a = row.querySelectorAll('td')[col].querySelector('a');
  a.scrollIntoView({block: 'center'});
  const r = a.getBoundingClientRect();
  return {x: r.x + r.width / 2, y: r.y + r.height / 2, id: a.dataset.output};
})()""")
for kind in ("mousePressed", "mouseReleased"):
    browser.send("Input.dispatchMouseEvent", type=kind, x=cell["x"], y=cell["y"], button="left", clickCount=1)
browser.wait_for(f"location.pathname === '/outputs/{cell['id']}' && document.readyState === 'complete'")
browser.wait_for("document.getElementById('full').complete")
page = browser.evaluate("""(() => ({
  rows: Object.fromEntries(Array.from(document.querySelectorAll('#provenance tr')).map(r => [r.dataset.column, r.querySelector('td').textContent])),
  width: document.getElementById('full').naturalWidth,
  command: document.getElementById('render-command').textContent,
  title: document.title}))()""")
expected = report(f"SELECT * FROM v_outputs WHERE output_id = {int(cell['id'])}")[0]
expected = {k: v for k, v in expected.items() if k not in ("provenance", "step_seconds")}
check(page["rows"] == expected, f"image {cell['id']}'s provenance matches v_outputs ({len(expected)} columns)")
differences = {k: (page["rows"].get(k), v) for k, v in expected.items() if page["rows"].get(k) != v}
if differences:
    print("     differences (page, v_outputs):", json.dumps(differences))
check(expected.get("seed") == "2" and expected.get("scheduler") == "dpmpp-2m", "the clicked cell is seed 2, dpmpp-2m")
check(page["width"] > 0, "the full-size image loaded")
check(page["command"].startswith("kiln render --model ") and "--seed 2 " in page["command"], "a kiln render command with the seed")
check("<script>" in page["rows"].get("prompt", ""), "the prompt's <script> tag shows as text")
browser.evaluate("window.scrollTo(0, 0)")
browser.screenshot(f"{artifacts}/image.png", clip={"x": 0, "y": 0, "width": 1000, "height": 760})

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
