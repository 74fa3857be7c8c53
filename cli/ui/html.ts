/**
 * The dashboard's page frame and small HTML helpers. Everything is served from here: the style and the few
 * lines of script (row selection, live refresh) are inline, charts are SVG drawn on the server, so the page
 * works offline and loads nothing from elsewhere.
 */

export const esc = (s: unknown): string =>
  String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;")

/** A query string from pairs (repeated keys allowed; undefined values left out, empty ones kept: pipeline= means all). */
export const qs = (pairs: ReadonlyArray<readonly [string, string | number | undefined]>): string => {
  const p = new URLSearchParams()
  for (const [k, v] of pairs) if (v !== undefined) p.append(k, String(v))
  const s = p.toString()
  return s ? `?${s}` : ""
}

export type Section = "experiments" | "runs" | "sweeps" | "pipeline" | "compare"

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 0; color: #222; }
header { background: #263238; color: #eee; padding: 0.6em 1.2em; display: flex; gap: 1.5em; align-items: baseline; }
header a { color: #cfd8dc; text-decoration: none; }
header a.on { color: #fff; font-weight: bold; border-bottom: 2px solid #80cbc4; }
header .store { margin-left: auto; font-size: 0.85em; color: #90a4ae; }
main { padding: 1em 1.2em; }
h1 { font-size: 1.4em; margin: 0.2em 0 0.6em; }
h2 { font-size: 1.1em; margin: 1.4em 0 0.5em; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; white-space: nowrap; }
th { background: #f5f5f5; }
th a { color: inherit; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.failed td, tr.interrupted td { color: #b71c1c; }
tr.running td { background: #e3f2fd; }
tr.stopped td { color: #999; }
td.diff { background: #fff3cd; }
form.filter input[type=text] { width: 22em; }
.error { color: #b71c1c; background: #fdecea; padding: 0.5em 0.8em; border-radius: 4px; }
.muted { color: #777; }
pre.log { background: #111; color: #ddd; padding: 0.6em; max-height: 24em; overflow: auto; font-size: 0.8em; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 1em; }
dl.facts dt { font-weight: bold; }
dl.facts dd { margin: 0; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
.charts > div { border: 1px solid #eee; padding: 0.4em; }
img.preview { image-rendering: pixelated; max-width: 280px; border: 1px solid #ddd; }
.pager { margin: 0.6em 0; display: flex; gap: 1em; }
.state-fresh { color: #2e7d32; } .state-stale { color: #e65100; } .state-pending { color: #777; } .state-running { color: #1565c0; } .state-failed { color: #b71c1c; }
`

/**
 * Live refresh: an element with data-live="URL" is replaced by URL's body every 1.5 s while the page is open
 * (the server answers 204 when nothing changed since data-version); checkboxes named "sel" feed the compare
 * button.
 */
const SCRIPT = `
document.addEventListener("click", (e) => {
  const b = e.target.closest("button[data-compare]");
  if (!b) return;
  const picked = [...document.querySelectorAll("input[name=sel]:checked")].map((i) => i.value);
  if (picked.length < 2) { alert("select two or more rows to compare"); return; }
  location.href = "/compare?" + picked.map((v) => b.dataset.compare + "=" + encodeURIComponent(v)).join("&");
});
const live = () => {
  for (const el of document.querySelectorAll("[data-live]")) {
    if (el.dataset.busy) continue;
    el.dataset.busy = "1";
    const url = el.dataset.live + (el.dataset.live.includes("?") ? "&" : "?") + "version=" + encodeURIComponent(el.dataset.version || "");
    fetch(url, { credentials: "same-origin" }).then(async (r) => {
      if (r.status === 200) {
        const checked = new Set([...el.querySelectorAll("input[name=sel]:checked")].map((i) => i.value));
        el.innerHTML = await r.text();
        el.dataset.version = r.headers.get("x-version") || "";
        for (const i of el.querySelectorAll("input[name=sel]")) if (checked.has(i.value)) i.checked = true;
        if (r.headers.get("x-final") === "1") el.removeAttribute("data-live");
      }
    }).catch(() => {}).finally(() => { delete el.dataset.busy; });
  }
};
setInterval(live, 1500);
`

export const page = (title: string, section: Section, body: string, store: string): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${esc(title)} · pipe</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<strong>pipe</strong>
${(["experiments", "runs", "sweeps", "pipeline"] as const).map((s) => `<a href="/${s}"${s === section ? ` class="on"` : ""}>${s[0]!.toUpperCase()}${s.slice(1)}</a>`).join("\n")}
<span class="store">${esc(store)}</span>
</header>
<main>
<h1>${esc(title)}</h1>
${body}
</main>
<script>${SCRIPT}</script>
</body>
</html>
`

/** A table: header cells and rows of cells (already HTML); a row's class from `rowClass`. */
export const tableHtml = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  opts: { readonly id?: string; readonly rowClass?: (i: number) => string; readonly rowData?: (i: number) => string } = {}
): string =>
  [
    `<table${opts.id ? ` id="${esc(opts.id)}"` : ""}><thead><tr>${header.map((h) => `<th>${h}</th>`).join("")}</tr></thead><tbody>`,
    ...rows.map((r, i) => `<tr${opts.rowClass ? ` class="${esc(opts.rowClass(i))}"` : ""}${opts.rowData ? ` ${opts.rowData(i)}` : ""}>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`),
    `</tbody></table>`
  ].join("\n")

export const num = (v: unknown): string => `<span class="num">${esc(v)}</span>`
