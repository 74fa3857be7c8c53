/**
 * The dashboard's pages, built on the server from the store's read side (the same queries, filters and
 * columns as `pipe exps`, `pipe runs`, `pipe show`, `pipe sweeps`, `pipe lineage` and `pipe status`). Each
 * returns HTML; the live parts are fragments the page fetches again while a run is going.
 */
import { lstatSync, readFileSync, realpathSync } from "node:fs"
import { join, sep } from "node:path"
import { expLabel, type ExperimentInfo } from "../../cache/experiments.js"
import { expField, parseExpCondition } from "../../cache/expFilter.js"
import { lineage } from "../../cache/lineage.js"
import { blobPath } from "../../artifacts/blobs.js"
import { logFile, seriesFile } from "../../cache/records.js"
import type { Queries } from "../../cache/queries.js"
import { parseCondition } from "../../cache/runFilter.js"
import type { RunInfo } from "../../cache/runInfo.js"
import type { StoreApi } from "../../cache/store.js"
import type { SweepPointInfo } from "../../cache/sweeps.js"
import { expColumns, suggest } from "../exps.js"
import { duration, flat, short, value, when } from "../format.js"
import { runColumns } from "../runs.js"
import { graphSvg, type GraphNode } from "./graph.js"
import { esc, num, qs, tableHtml } from "./html.js"

export interface UiContext {
  readonly store: StoreApi
  readonly q: Queries
  readonly root: string
  /** The workspace pipeline's name (the default filter of the experiments page), if a pipeline file was found. */
  readonly pipeline: string | undefined
}

/** What a handler answers: a status and a body, and for a live fragment whether it will change again. */
export interface Answer {
  readonly status: number
  readonly html: string
  readonly title?: string
  readonly final?: boolean
}

export const PAGE_SIZE = 50

export class BadRequest extends Error {}

const link = (href: string, text: string) => `<a href="${esc(href)}">${esc(text)}</a>`
const runLink = (id: number) => link(`/runs/${id}`, `#${id}`)
const statusCell = (s: string) => `<span class="state-${esc(s)}">${esc(s)}</span>`

/** Where a stored file's blob is, only when it is a plain file inside the store's blobs (never through a link). */
export const storeBlobPath = (root: string, blob: string): string | undefined => {
  if (!/^[0-9a-f]{16,128}$/.test(blob)) return undefined
  const p = blobPath(root, blob)
  try {
    if (!lstatSync(p).isFile()) return undefined
    const real = realpathSync(p)
    return real.startsWith(realpathSync(join(root, "blobs")) + sep) ? real : undefined
  } catch {
    return undefined
  }
}

/** A stored file's bytes, read as storeBlobPath allows. */
const storeBlob = (root: string, blob: string): Buffer | undefined => {
  const p = storeBlobPath(root, blob)
  try {
    return p === undefined ? undefined : readFileSync(p)
  } catch {
    return undefined
  }
}

/** A file in the store outside blobs (a log, a series) read the same careful way: a plain file under `dir` of the store. */
const storeFile = (root: string, path: string): string | undefined => {
  try {
    if (!lstatSync(path).isFile()) return undefined
    const real = realpathSync(path)
    if (!real.startsWith(realpathSync(root) + sep)) return undefined
    return readFileSync(real, "utf8")
  } catch {
    return undefined
  }
}

// ---------------------------------------------------------------------------------------------------------
// Curves: a run's records by epoch (or step), from its model's metrics.jsonl, its series, or, while it runs,
// the metrics.jsonl it is writing.

export interface Curve {
  /** The chart it belongs on: loss, accuracy or other. */
  readonly group: "loss" | "accuracy" | "other"
  readonly field: string
  readonly points: ReadonlyArray<{ readonly x: number; readonly y: number }>
}

const NOT_FIGURES = new Set(["epoch", "step", "seconds", "images_per_s", "tensors", "lr", "time", "ms"])

const parseRecords = (text: string | undefined): Array<Record<string, unknown>> =>
  (text ?? "").split("\n").flatMap((line) => {
    if (!line.trim()) return []
    try {
      const r = JSON.parse(line) as unknown
      return typeof r === "object" && r !== null && !Array.isArray(r) ? [r as Record<string, unknown>] : []
    } catch {
      return []
    }
  })

/** The records a run's curves are drawn from, and whether they are still growing. */
export const runRecords = (ctx: UiContext, run: RunInfo): Array<Record<string, unknown>> => {
  if (run.output) {
    const file = ctx.q.files(run.output).find((f) => f.path === "metrics.jsonl")
    const bytes = file && storeBlob(ctx.root, file.blob)
    if (bytes) return parseRecords(bytes.toString("utf8"))
  }
  if (run.status === "running") {
    const p = ctx.q.runProcess(run.id)
    if (p && (p.pstart === null || /^[\w.:-]+$/.test(p.pstart))) {
      const live = storeFile(ctx.root, join(ctx.root, "tmp", `${p.pid}-${p.pstart ?? "x"}-${run.id}`, "out", "metrics.jsonl"))
      if (live !== undefined) return parseRecords(live)
    }
  }
  return parseRecords(storeFile(ctx.root, seriesFile(ctx.root, run.id)))
}

/** Curves from records: epoch records when there are any, else every record; x is the epoch, else the step, else the index. */
export const curvesOf = (records: ReadonlyArray<Record<string, unknown>>): Array<Curve> => {
  const epochs = records.filter((r) => r["type"] === "epoch")
  const rows = epochs.length ? epochs : records.filter((r) => r["type"] === undefined)
  const fields = new Map<string, Array<{ x: number; y: number }>>()
  rows.forEach((r, i) => {
    const x = typeof r["epoch"] === "number" ? r["epoch"] : typeof r["step"] === "number" ? r["step"] : i + 1
    for (const [k, v] of Object.entries(r)) {
      if (NOT_FIGURES.has(k) || typeof v !== "number" || !Number.isFinite(v)) continue
      ;(fields.get(k) ?? fields.set(k, []).get(k)!).push({ x, y: v })
    }
  })
  return [...fields].map(([field, points]) => ({ field, points, group: /loss/.test(field) ? "loss" : /acc/.test(field) ? "accuracy" : "other" }))
}

/** Charts of curves, one per group, each line labelled by `label(curve)`; SVG drawn by Vega on the server. */
const chartsHtml = async (curves: ReadonlyArray<Curve & { readonly label: string }>, xTitle = "epoch"): Promise<string> => {
  if (curves.length === 0) return `<p class="muted">no figures by epoch or step recorded</p>`
  const { inline, lineSpec, toSvg } = await import("../../ml/report/charts.js")
  const groups = (["loss", "accuracy", "other"] as const).filter((g) => curves.some((c) => c.group === g))
  const svgs = await Promise.all(
    groups.map((g) =>
      toSvg(
        lineSpec(
          g === "other" ? "figures" : g,
          curves.filter((c) => c.group === g).flatMap((c) => c.points.map((p) => ({ series: c.label, x: p.x, y: p.y }))),
          xTitle,
          g
        )
      )
    )
  )
  return `<div class="charts">${svgs.map((s, i) => `<div data-chart="${groups[i]}">${inline(s)}</div>`).join("")}</div>`
}

// ---------------------------------------------------------------------------------------------------------
// Experiments and runs

const pager = (base: string, pairs: ReadonlyArray<readonly [string, string | number | undefined]>, page: number, more: boolean) =>
  `<div class="pager">${page > 1 ? link(`${base}${qs([...pairs, ["page", page - 1]])}`, "← newer") : ""}<span class="muted">page ${page}</span>${
    more ? link(`${base}${qs([...pairs, ["page", page + 1]])}`, "older →") : ""
  }</div>`

const wheres = (url: URL) => url.searchParams.getAll("where").filter((w) => w.trim() !== "")
const pageOf = (url: URL) => Math.max(1, Math.min(1e6, Number.parseInt(url.searchParams.get("page") ?? "1", 10) || 1))
const intParam = (url: URL, name: string): number | undefined => {
  const v = url.searchParams.get(name)
  if (v === null || v === "") return undefined
  if (!/^\d{1,9}$/.test(v)) throw new BadRequest(`${name}=${v}: expected a number`)
  return Number(v)
}

const filterForm = (action: string, url: URL, example: string, extra = "") => `<form class="filter" method="get" action="${esc(action)}">
${(wheres(url).length ? wheres(url) : [""]).map((w) => `<input type="text" name="where" value="${esc(w)}" placeholder="${esc(example)}">`).join(" ")}
<input type="text" name="sort" value="${esc(url.searchParams.get("sort") ?? "")}" placeholder="sort, e.g. -evaluate-mlp.test_accuracy" style="width: 16em">
${extra}<button>filter</button> <a href="${esc(action)}">clear</a>
</form>`

const expRow = (e: ExperimentInfo, keys: ReadonlyArray<string>) => [
  `<input type="checkbox" name="sel" value="${e.id}">`,
  link(`/experiments/${e.id}`, expLabel(e.id)),
  esc(e.name ?? ""),
  statusCell(e.status),
  esc(when(e.createdAt)),
  e.sweep === null ? "run" : `${link(`/sweeps/${e.sweep}`, `sweep ${e.sweep}`)} #${e.point}`,
  esc(e.tags.join(", ")),
  ...keys.map((k) => (k in e.params ? esc(value(e.params[k])) : k in e.metrics ? num(value(e.metrics[k])) : ""))
]

/** The experiments table (filtered, sorted and paginated in SQL, as `pipe exps`), as a page or its live fragment. */
export const experimentsPage = (ctx: UiContext, url: URL, headline: string | undefined): Answer => {
  const where = wheres(url)
  const sort = url.searchParams.get("sort") || undefined
  const pipelineParam = url.searchParams.get("pipeline")
  const pipeline = pipelineParam === null ? ctx.pipeline : pipelineParam || undefined
  const page = pageOf(url)
  const sweep = intParam(url, "sweep")
  const tags = url.searchParams.getAll("tag").filter(Boolean)
  let body: string
  let status = 200
  try {
    const conditions = where.map((w) => parseExpCondition(w))
    // A field no experiment has is a typo more often than not: said, with the closest known key, as pipe exps says it.
    for (const raw of [...conditions.map((c) => c.field), ...(sort ? [sort.replace(/^-/, "")] : [])]) {
      const f = expField(raw)
      if (f._tag !== "key" || ctx.store.experiments.hasKey(f, pipeline)) continue
      const keys = ctx.store.experiments.knownKeys(pipeline)
      throw new BadRequest(`no experiment${pipeline ? ` of ${pipeline}` : ""} has a param or figure '${f.key}'${suggest(f.key, keys)}`)
    }
    const rows = ctx.store.experiments.list({
      ...(pipeline !== undefined ? { pipeline } : {}),
      ...(sweep !== undefined ? { sweep } : {}),
      tags,
      where: conditions,
      ...(sort ? { sort } : {}),
      limit: PAGE_SIZE + 1,
      offset: (page - 1) * PAGE_SIZE
    })
    const exps = rows.slice(0, PAGE_SIZE)
    const named = [...(sort ? [sort] : []), ...conditions.map((c) => c.field)]
    const c = expColumns(exps, named, headline)
    const keys = [...c.named, ...c.params, ...c.metrics]
    const pairs: Array<[string, string | number | undefined]> = [
      ...where.map((w): [string, string] => ["where", w]),
      ["sort", sort],
      ...(pipelineParam !== null ? [["pipeline", pipelineParam] as [string, string]] : []),
      ["sweep", sweep],
      ...tags.map((t): [string, string] => ["tag", t])
    ]
    body =
      exps.length === 0
        ? `<p class="muted">no experiments match${pipeline ? ` (pipeline ${esc(pipeline)}; <a href="/experiments?pipeline=">all pipelines</a>)` : ""}</p>`
        : tableHtml(["", "exp", "name", "status", "created", "source", "tags", ...keys.map(esc)], exps.map((e) => expRow(e, keys)), {
            id: "experiments",
            rowClass: (i) => exps[i]!.status,
            rowData: (i) => `data-exp="${exps[i]!.id}"`
          }) +
          (c.hidden.length ? `<p class="muted">${c.hidden.length} more columns not shown: ${esc(c.hidden.join(", "))} (name them in a filter or sort)</p>` : "") +
          pager("/experiments", pairs, page, rows.length > PAGE_SIZE)
  } catch (e) {
    status = 400
    body = `<p class="error">${esc((e as Error).message)}</p>`
  }
  if (url.searchParams.has("fragment")) return { status, html: body }
  const self = `/experiments${qs([...url.searchParams].filter(([k]) => k !== "fragment" && k !== "version"))}`
  return {
    status,
    title: "Experiments",
    html: `${filterForm("/experiments", url, "train-mlp.lr=0.001 or evaluate-mlp.test_accuracy>=0.8")}
<p><button data-compare="exp">compare selected</button> <span class="muted">${pipeline ? `pipeline ${esc(pipeline)} · ` : ""}each pipe run and sweep point; <a href="/runs">stage runs</a></span></p>
<div id="live-experiments" data-live="${esc(self + (self.includes("?") ? "&" : "?") + "fragment=1")}">${body}</div>`
  }
}

/** The stage runs table, as `pipe runs` lists them. */
export const runsPage = (ctx: UiContext, url: URL): Answer => {
  const where = wheres(url)
  const sort = url.searchParams.get("sort") || undefined
  const stages = url.searchParams.getAll("stage").filter(Boolean)
  const statuses = url.searchParams.getAll("status").filter(Boolean)
  const page = pageOf(url)
  const sweep = intParam(url, "sweep")
  let body: string
  let status = 200
  try {
    const conditions = where.map((w) => parseCondition(w))
    const rows = ctx.q.runs({ stages, status: statuses, ...(sweep !== undefined ? { sweep } : {}), where: conditions, ...(sort ? { sort } : {}), limit: PAGE_SIZE + 1, offset: (page - 1) * PAGE_SIZE })
    const runs = rows.slice(0, PAGE_SIZE)
    const { paramCols, metricCols } = runColumns(runs)
    const param = (r: RunInfo, k: string) => {
      const hit = flat(r.record.params).find(([p]) => p === k)
      return hit ? esc(value(hit[1])) : ""
    }
    const pairs: Array<[string, string | number | undefined]> = [
      ...where.map((w): [string, string] => ["where", w]),
      ["sort", sort],
      ...stages.map((s): [string, string] => ["stage", s]),
      ...statuses.map((s): [string, string] => ["status", s]),
      ["sweep", sweep]
    ]
    body =
      runs.length === 0
        ? `<p class="muted">no runs match</p>`
        : tableHtml(
            ["", "run", "stage", "status", "started", "time", ...paramCols.map(esc), ...metricCols.map(esc)],
            runs.map((r) => [
              `<input type="checkbox" name="sel" value="${r.id}">`,
              runLink(r.id),
              esc(r.stage),
              statusCell(r.status),
              esc(when(r.startedAt)),
              esc(duration(r.durationMs)),
              ...paramCols.map((k) => param(r, k)),
              ...metricCols.map((k) => (r.metrics && k in r.metrics ? num(value(r.metrics[k])) : ""))
            ]),
            { id: "runs", rowClass: (i) => runs[i]!.status, rowData: (i) => `data-run="${runs[i]!.id}"` }
          ) + pager("/runs", pairs, page, rows.length > PAGE_SIZE)
  } catch (e) {
    status = 400
    body = `<p class="error">${esc((e as Error).message)}</p>`
  }
  if (url.searchParams.has("fragment")) return { status, html: body }
  const self = `/runs${qs([...url.searchParams].filter(([k]) => k !== "fragment" && k !== "version"))}`
  return {
    status,
    title: "Stage runs",
    html: `${filterForm("/runs", url, "params.lr=0.01 or metrics.test_accuracy>=0.9", `<input type="text" name="stage" value="${esc(stages[0] ?? "")}" placeholder="stage" style="width: 8em"> `)}
<p><button data-compare="run">compare selected</button> <span class="muted">every stage run, newest first; <a href="/experiments">experiments</a></span></p>
<div id="live-runs" data-live="${esc(self + (self.includes("?") ? "&" : "?") + "fragment=1")}">${body}</div>`
  }
}

/** One experiment: its params, figures and the run of each stage. */
export const experimentPage = (ctx: UiContext, id: number): Answer => {
  const e = ctx.store.experiments.get(id)
  if (!e) return { status: 404, title: "Not found", html: `<p class="error">there is no experiment e${id} in this store</p>` }
  const kv = (o: Readonly<Record<string, unknown>>, numeric = false) =>
    tableHtml(["", ""], Object.entries(o).map(([k, v]) => [esc(k), numeric ? num(value(v)) : esc(value(v))]))
  return {
    status: 200,
    title: `Experiment ${expLabel(e.id)}${e.name ? ` (${e.name})` : ""}`,
    html: `<dl class="facts">
<dt>pipeline</dt><dd>${esc(e.pipeline)}</dd><dt>status</dt><dd>${statusCell(e.status)}</dd><dt>created</dt><dd>${esc(when(e.createdAt))}</dd>
<dt>command</dt><dd><code>${esc(e.command)}</code></dd>${e.sweep !== null ? `<dt>sweep</dt><dd>${link(`/sweeps/${e.sweep}`, `sweep ${e.sweep}`)}, point ${e.point}</dd>` : ""}
<dt>code</dt><dd>pipe ${esc(e.pipeVersion ?? "?")}${e.gitCommit ? `, commit ${esc(short(e.gitCommit))}` : ""}</dd>${e.tags.length ? `<dt>tags</dt><dd>${esc(e.tags.join(", "))}</dd>` : ""}
</dl>
<h2>Runs</h2>${tableHtml(["stage", "run"], Object.entries(e.runs).map(([s, r]) => [esc(s), ctx.q.run(r) ? runLink(r) : `#${esc(r)} <span class="muted">(removed by gc)</span>`]))}
<h2>Params</h2>${kv(e.params)}
<h2>Metrics</h2>${kv(e.metrics, true)}`
  }
}

// ---------------------------------------------------------------------------------------------------------
// One run

const IMAGE = /\.(png|jpe?g|gif|webp)$/i
const PROGRESS = /\[[=> ]{8,}\]/

/** The live part of a run page: status, curves and the end of its log. */
export const runLive = async (ctx: UiContext, run: RunInfo): Promise<Answer> => {
  const curves = curvesOf(runRecords(ctx, run)).map((c) => ({ ...c, label: c.field }))
  const log = run.logPath === null ? undefined : storeFile(ctx.root, logFile(ctx.root, run.id))
  // Progress bars ("epoch 2/6 [====>   ] 40% ...") are kept only as the last line: the rest of the log is what happened.
  const lines = (log ?? "").split(/\r?\n|\r/).filter((l) => l.trim() !== "")
  const tail = lines
    .filter((l, i) => i === lines.length - 1 || !PROGRESS.test(l))
    .slice(-40)
    .join("\n")
  const epochs = curves.reduce((m, c) => c.points.reduce((n, p) => Math.max(n, p.x), m), 0)
  return {
    status: 200,
    final: run.status !== "running",
    html: `<p id="run-status" data-status="${esc(run.status)}" data-epochs="${epochs}">status ${statusCell(run.status)}${run.status === "running" ? ` · ${epochs} epoch${epochs === 1 ? "" : "s"} so far (updating)` : ""}${
      run.durationMs !== null ? ` · ${esc(duration(run.durationMs))}` : ""
    }</p>
<h2>Curves</h2>
<div id="curves">${await chartsHtml(curves)}</div>
<h2>Log</h2>
${log === undefined ? `<p class="muted">no log</p>` : `<pre class="log" id="log">${esc(tail)}</pre>`}`
  }
}

/**
 * The lineage graph of a run, runs as nodes: up, what made its inputs (to the sources), and down, the runs that
 * read its output and those that read theirs, the newest LINEAGE_MAX at each level.
 */
const lineageSvg = (ctx: UiContext, run: RunInfo): string => {
  const nodes = new Map<string, GraphNode>()
  const edges = new Set<string>()
  const add = (r: RunInfo) =>
    nodes.set(`run:${r.id}`, {
      id: `run:${r.id}`,
      label: `${r.stage} #${r.id}`,
      sub: r.status,
      fill: r.id === run.id ? "#80cbc4" : r.status === "ok" ? "#e8f5e9" : r.status === "running" ? "#e3f2fd" : "#ffebee",
      href: `/runs/${r.id}`
    })
  add(run)
  const up = lineage(ctx.q, { _tag: "run", id: run.id, via: `run #${run.id}` }, "up", 6)
  const producerOf = new Map<string, string>()
  for (const e of up.edges) if (e.role === "output") producerOf.set(e.to, e.from)
  for (const n of up.nodes) if (n.type === "run" && n.run) add(n.run)
  for (const e of up.edges) {
    const from = e.role === "input" ? producerOf.get(e.from) : undefined
    if (from && nodes.has(from) && nodes.has(e.to)) edges.add(`${from}\n${e.to}`)
  }
  let left = 0
  let level: Array<RunInfo> = [run]
  for (let depth = 0; depth < 2; depth++) {
    const next: Array<RunInfo> = []
    for (const r of level) {
      if (!r.output) continue
      const c = ctx.q.consumersOf(r.output, LINEAGE_MAX)
      left += Math.max(0, c.total - c.runs.length)
      for (const u of c.runs) {
        if (!nodes.has(`run:${u.id}`)) next.push(u)
        add(u)
        edges.add(`run:${r.id}\nrun:${u.id}`)
      }
    }
    level = next.slice(0, LINEAGE_MAX)
  }
  const svg = graphSvg([...nodes.values()], [...edges].map((e) => e.split("\n") as [string, string]))
  return left > 0 ? `${svg}<p class="muted">${left} more runs that read these outputs are not drawn (pipe lineage lists them all)</p>` : svg
}

const LINEAGE_MAX = 40

export const runPage = async (ctx: UiContext, id: number): Promise<Answer> => {
  const run = ctx.q.run(id)
  if (!run) return { status: 404, title: "Not found", html: `<p class="error">there is no run #${id} in this store (pipe gc may have removed it)</p>` }
  // From the key record: a running run's inputs are known before its edges are recorded.
  const inputs = Object.entries(run.record.inputs ?? {}).map(([name, artifact]) => ({ name, artifact: String(artifact) })).map((i) => {
    const producer = ctx.q.producers(i.artifact)[0]
    const a = ctx.q.artifact(i.artifact)
    return [esc(i.name), `<code>${esc(short(i.artifact))}</code>`, esc(a?.type ?? "?"), producer ? `${runLink(producer.id)} ${esc(producer.stage)}` : `<span class="muted">unknown</span>`]
  })
  const files = run.output ? ctx.q.files(run.output) : []
  const outputs = files.map((f) => [link(`/files/${run.output}/${f.path.split("/").map(encodeURIComponent).join("/")}`, f.path), num(f.size.toLocaleString("en"))])
  const images = files.filter((f) => IMAGE.test(f.path)).slice(0, 12)
  const consumers = run.output ? ctx.q.consumersOf(run.output, 50) : { runs: [], total: 0 }
  const live = await runLive(ctx, run)
  const metrics = Object.entries(run.metrics ?? {})
  return {
    status: 200,
    title: `Run #${run.id}: ${run.stage}`,
    html: `<dl class="facts">
<dt>stage</dt><dd>${esc(run.stage)} <span class="muted">(kind ${esc(run.kind)}, pipeline ${esc(run.pipeline)})</span></dd>
<dt>started</dt><dd>${esc(when(run.startedAt))}</dd>
<dt>key</dt><dd><code>${esc(run.key)}</code></dd>
${run.reason ? `<dt>why it ran</dt><dd>${esc(run.reason)}</dd>` : ""}
${run.error ? `<dt>error</dt><dd class="error">${esc(run.error)}</dd>` : ""}
<dt>engine</dt><dd>${esc(run.record.engine === undefined || run.record.engine === null ? "-" : value(run.record.engine))}</dd>
<dt>code</dt><dd>pipe ${esc(run.pipeVersion ?? "?")}${run.gitCommit ? `, commit ${esc(short(run.gitCommit))}` : ""}</dd>
${run.ranOn ? `<dt>ran on</dt><dd>${esc(run.ranOn)}${run.jobId ? ` (job ${esc(run.jobId)})` : ""}</dd>` : ""}
</dl>
<p><a href="/compare?run=${run.id}">compare with…</a></p>
<div id="live-run" ${live.final ? "" : `data-live="/runs/${run.id}/live"`}>${live.html}</div>
<h2>Params</h2>${tableHtml(["param", "value"], flat(run.record.params).map(([k, v]) => [esc(k), esc(value(v))]))}
<h2>Metrics</h2>${metrics.length ? tableHtml(["figure", "value"], metrics.map(([k, v]) => [esc(k), num(value(v))])) : `<p class="muted">none</p>`}
<h2>Inputs</h2>${inputs.length ? tableHtml(["slot", "artifact", "type", "made by"], inputs) : `<p class="muted">none (a source)</p>`}
<h2>Output</h2>${
      run.output
        ? `<p>artifact <code>${esc(short(run.output))}</code>, ${files.length} file${files.length === 1 ? "" : "s"}</p>${tableHtml(["file", "bytes"], outputs)}${
            images.length ? `<div class="charts">${images.map((f) => `<div><img class="preview" alt="${esc(f.path)}" src="/files/${esc(run.output!)}/${esc(f.path.split("/").map(encodeURIComponent).join("/"))}"><br><span class="muted">${esc(f.path)}</span></div>`).join("")}</div>` : ""
          }`
        : `<p class="muted">none recorded${run.status === "running" ? " yet" : ""}</p>`
    }
${consumers.total ? `<h2>Used by <span class="muted">(${consumers.total} run${consumers.total === 1 ? "" : "s"}${consumers.total > consumers.runs.length ? `, the newest ${consumers.runs.length} listed` : ""})</span></h2>${tableHtml(["run", "stage", "slot"], consumers.runs.map((c) => [runLink(c.id), esc(c.stage), esc(c.slot)]))}` : ""}
<h2>Lineage</h2><div id="lineage">${lineageSvg(ctx, run)}</div>`
  }
}

// ---------------------------------------------------------------------------------------------------------
// Compare

/** Two or more experiments or runs side by side: params and figures (differences marked), curves overlaid. */
export const comparePage = async (ctx: UiContext, url: URL): Promise<Answer> => {
  const expIds = url.searchParams.getAll("exp").map((v) => Number(v.replace(/^e/, "")))
  const runIds = url.searchParams.getAll("run").map((v) => Number(v.replace(/^#/, "")))
  if ([...expIds, ...runIds].some((n) => !Number.isSafeInteger(n) || n < 1)) throw new BadRequest("compare takes exp=N and run=N, each a number")
  interface Column {
    readonly label: string
    readonly href: string
    readonly params: Readonly<Record<string, unknown>>
    readonly metrics: Readonly<Record<string, unknown>>
    readonly runs: ReadonlyArray<RunInfo>
  }
  const missing: Array<string> = []
  const columns: Array<Column> = []
  for (const id of expIds) {
    const e = ctx.store.experiments.get(id)
    if (!e) missing.push(`e${id}`)
    else columns.push({ label: expLabel(e.id) + (e.name ? ` ${e.name}` : ""), href: `/experiments/${e.id}`, params: e.params, metrics: e.metrics, runs: Object.values(e.runs).flatMap((r) => ctx.q.run(r) ?? []) })
  }
  for (const id of runIds) {
    const r = ctx.q.run(id)
    if (!r) missing.push(`#${id}`)
    else columns.push({ label: `#${r.id} ${r.stage}`, href: `/runs/${r.id}`, params: Object.fromEntries(flat(r.record.params)), metrics: r.metrics ?? {}, runs: [r] })
  }
  const note = missing.length ? `<p class="error">not in this store: ${esc(missing.join(", "))}</p>` : ""
  if (columns.length < 2) {
    return { status: columns.length + missing.length < 2 ? 400 : 404, title: "Compare", html: `${note}<p>Pick two or more rows on the <a href="/experiments">experiments</a> or <a href="/runs">runs</a> page and press <em>compare selected</em>.</p>` }
  }
  const side = (get: (c: Column) => Readonly<Record<string, unknown>>, id: string) => {
    const keys = [...new Set(columns.flatMap((c) => Object.keys(get(c))))].sort()
    const differs = (k: string) => new Set(columns.map((c) => JSON.stringify(get(c)[k] ?? null))).size > 1
    const rows = keys.map((k) => [esc(k), ...columns.map((c) => `${k in get(c) ? esc(value(get(c)[k])) : `<span class="muted">-</span>`}`)])
    const html = tableHtml(["", ...columns.map((c) => link(c.href, c.label))], rows, { id, rowClass: (i) => (differs(keys[i]!) ? "differs" : "same") })
    return html.replace(/<tr class="differs">(.*?)<\/tr>/g, (_m, cells: string) => `<tr class="differs">${cells.replace(/<td>/g, '<td class="diff">').replace('<td class="diff">', "<td>")}</tr>`)
  }
  const nDiff = (get: (c: Column) => Readonly<Record<string, unknown>>) =>
    [...new Set(columns.flatMap((c) => Object.keys(get(c))))].filter((k) => new Set(columns.map((c) => JSON.stringify(get(c)[k] ?? null))).size > 1).length
  // Each column's curves, the validation ones when a run has them (they are what comparisons are about).
  const curves = columns.flatMap((c) =>
    c.runs.flatMap((r) => {
      const all = curvesOf(runRecords(ctx, r))
      const val = all.filter((x) => x.field.startsWith("val"))
      return (val.length ? val : all).map((x) => ({ ...x, label: `${c.label}${c.runs.length > 1 ? ` ${r.stage}` : ""} ${x.field}` }))
    })
  )
  return {
    status: 200,
    title: `Compare ${columns.map((c) => c.label.split(" ")[0]).join(", ")}`,
    html: `${note}<h2>Curves</h2>${await chartsHtml(curves)}
<h2>Params <span class="muted">(${nDiff((c) => c.params)} differ)</span></h2>${side((c) => c.params, "compare-params")}
<h2>Metrics <span class="muted">(${nDiff((c) => c.metrics)} differ)</span></h2>${side((c) => c.metrics, "compare-metrics")}`
  }
}

// ---------------------------------------------------------------------------------------------------------
// Sweeps

export const sweepsPage = (ctx: UiContext): Answer => {
  const sweeps = ctx.store.sweeps.list()
  return {
    status: 200,
    title: "Sweeps",
    html: sweeps.length
      ? tableHtml(
          ["sweep", "created", "search", "points", "status", "metric", "best", "command"],
          sweeps.map((s) => [
            link(`/sweeps/${s.id}`, `sweep ${s.id}`),
            esc(when(s.createdAt)),
            esc(s.search?.search ?? "grid"),
            num(s.recorded === s.planned ? s.planned : `${s.recorded}/${s.planned}`),
            esc(Object.entries(s.statuses).map(([k, n]) => `${n} ${k}`).join(", ")),
            esc(s.metric ?? "-"),
            s.best?.metric == null ? "-" : num(value(s.best.metric)),
            `<code>${esc(s.command)}</code>`
          ]),
          { id: "sweeps" }
        )
      : `<p class="muted">no sweeps in this store (pipe sweep KEY=V1,V2 runs one)</p>`
  }
}

export const sweepPage = async (ctx: UiContext, id: number): Promise<Answer> => {
  const s = ctx.store.sweeps.get(id)
  if (!s) return { status: 404, title: "Not found", html: `<p class="error">there is no sweep ${id} in this store</p>` }
  const points = ctx.store.sweeps.ranked(s)
  const keys = [...new Set(points.flatMap((p) => Object.keys(p.params)))]
  const halving = s.search?.search === "asha"
  // A halving search records a trial at each rung it ran: its newest experiment is its furthest rung's.
  const expOf = new Map<number | null, number>()
  for (const e of ctx.store.experiments.list({ sweep: id })) if (!expOf.has(e.point)) expOf.set(e.point, e.id)
  const row = (p: SweepPointInfo, i: number) => [
    num(i + 1),
    num(p.point),
    ...keys.map((k) => (k in p.params ? esc(value(p.params[k])) : "")),
    ...(halving ? [num(p.rung ?? "-"), num(p.epochs ?? "-")] : []),
    p.metric === null ? "-" : num(value(p.metric)),
    statusCell(p.status),
    expOf.has(p.point) ? link(`/experiments/${expOf.get(p.point)}`, expLabel(expOf.get(p.point)!)) : ""
  ]
  const scored = points.flatMap((p) => (p.metric === null ? [] : [{ point: p.point, params: p.params, metric: p.metric, ...(p.status === "stopped" ? { stopped: true } : {}) }]))
  const charts: Array<string> = []
  if (s.metric && scored.length > 1) {
    const { inline: strip, metricVsParamSpec, numericParams, parallelSpec, sweptParams, toSvg } = await import("../../ml/report/charts.js")
    if (sweptParams(scored).length > 0) charts.push(`<div data-chart="parallel">${strip(await toSvg(parallelSpec(s.metric, scored)))}</div>`)
    for (const param of numericParams(scored)) charts.push(`<div data-chart="scatter-${esc(param)}">${strip(await toSvg(metricVsParamSpec(s.metric, param, scored)))}</div>`)
  }
  return {
    status: 200,
    title: `Sweep ${id}`,
    html: `<dl class="facts"><dt>command</dt><dd><code>${esc(s.command)}</code></dd><dt>created</dt><dd>${esc(when(s.createdAt))}</dd>
<dt>search</dt><dd>${esc(halving ? `successive halving, rungs of ${s.search?.rungs?.join(", ")} epochs, eta ${s.search?.eta}, ${s.search?.promotion === "async" ? "asynchronous" : "synchronous"} promotion` : s.search?.search ?? "grid")}</dd>
<dt>points</dt><dd>${esc(`${s.recorded} of ${s.planned}: ${Object.entries(s.statuses).map(([k, n]) => `${n} ${k}`).join(", ")}`)}</dd>
<dt>ranked by</dt><dd>${esc(s.metric ?? "nothing")}${s.metric ? ` (${s.goal === "min" ? "lower" : "higher"} is better)` : ""}</dd></dl>
<p><a href="/experiments${qs([["sweep", id], ["pipeline", ""]])}">its experiments</a> · <a href="/runs${qs([["sweep", id]])}">its runs</a></p>
<h2>Charts</h2>${charts.length ? `<div class="charts">${charts.join("")}</div>` : `<p class="muted">nothing to chart: fewer than two points with a figure</p>`}
<h2>Points</h2>${tableHtml(["rank", "point", ...keys.map(esc), ...(halving ? ["rung", "epochs"] : []), esc(s.metric ?? "metric"), "status", "experiment"], points.map(row), {
      id: "points",
      rowClass: (i) => points[i]!.status
    })}`
  }
}

// ---------------------------------------------------------------------------------------------------------
// The pipeline

export interface StageState {
  readonly id: string
  readonly kind: string
  readonly needs: ReadonlyArray<string>
  readonly state: "fresh" | "stale" | "pending" | "running" | "failed"
  readonly reason: string
  readonly run?: number
}

const FILL: Record<StageState["state"], string> = { fresh: "#c8e6c9", stale: "#ffe0b2", pending: "#eeeeee", running: "#bbdefb", failed: "#ffcdd2" }

export const pipelinePage = (name: string, file: string, stages: ReadonlyArray<StageState>, fragment: boolean): Answer => {
  const counts = new Map<string, number>()
  for (const s of stages) counts.set(s.state, (counts.get(s.state) ?? 0) + 1)
  const graph = graphSvg(
    stages.map((s) => ({ id: s.id, label: s.id, sub: `${s.state} · ${s.kind}`, fill: FILL[s.state], title: s.reason, ...(s.run !== undefined ? { href: `/runs/${s.run}` } : {}) })),
    stages.flatMap((s) => s.needs.map((n) => [n, s.id] as const))
  )
  const body = `<p>${[...counts].map(([k, n]) => `<span class="state-${esc(k)}">${n} ${esc(k)}</span>`).join(" · ")}</p>
<div id="dag">${graph}</div>
<h2>Stages</h2>${tableHtml(["stage", "kind", "state", "why", "latest run"], stages.map((s) => [esc(s.id), esc(s.kind), statusCell(s.state), esc(s.reason), s.run !== undefined ? runLink(s.run) : ""]), { id: "stages", rowData: (i) => `data-stage="${esc(stages[i]!.id)}" data-state="${stages[i]!.state}"` })}`
  if (fragment) return { status: 200, html: body }
  return {
    status: 200,
    title: `Pipeline ${name}`,
    html: `<p class="muted">${esc(file)}: fresh stages are cached, stale ones would run (hover for why), pending ones wait on a stale one; updated while runs go.</p>
<div id="live-pipeline" data-live="/pipeline?fragment=1">${body}</div>`
  }
}
