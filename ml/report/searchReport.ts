/**
 * A search's report (`pipe report --sweep N` on a sweep whose trials train and evaluate nothing after, such as a
 * halving search): every trial with its params, the rung and epochs it reached, its status and figure, best first;
 * the trials in parallel coordinates (params -> figure) and the figure after every epoch of every trial, stopped
 * ones greyed. Written as report.html (self-contained), summary.md, report.json and figures/*.svg.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { inline, parallelSpec, sweptParams, toSvg, trialCurvesSpec, type TrialCurve } from "./charts.js"
import { escape, figuresHtml, pageHtml, type Figure } from "./report.js"

export interface SearchTrial {
  /** Numbered from 1. */
  readonly point: number
  readonly params: Readonly<Record<string, unknown>>
  /** A halving search's: the rung it reached (1-based) and its epochs there. */
  readonly rung?: number
  readonly epochs?: number
  readonly status: string
  readonly metric: number | null
  /** Its figure after each epoch it trained (empty when its training is no longer in the store). */
  readonly curve: ReadonlyArray<{ readonly epoch: number; readonly value: number }>
}

export interface SearchReportInput {
  readonly title: string
  readonly sweep: {
    readonly id: number
    readonly command: string
    readonly createdAt: string
    readonly metric: string
    readonly goal: "max" | "min"
    /** grid, random or asha; a halving search's rungs, eta and promotion. */
    readonly search: string
    readonly rungs?: ReadonlyArray<number>
    readonly eta?: number
    readonly promotion?: string
  }
  /** Best first. */
  readonly trials: ReadonlyArray<SearchTrial>
  readonly notes: ReadonlyArray<string>
}

export interface SearchReport {
  readonly figures: ReadonlyArray<Figure>
  readonly markdown: string
}

const show = (v: unknown): string => (typeof v === "number" ? String(Number(v.toPrecision(4))) : typeof v === "string" ? v : JSON.stringify(v))
const figure = (m: number | null) => (m === null ? "-" : m.toFixed(4))

/** The trials as rows of cells: rank, trial, each param, rung and epochs (a halving search), the figure, status. */
const rows = (input: SearchReportInput) => {
  const keys = [...new Set(input.trials.flatMap((t) => Object.keys(t.params)))]
  const halving = input.trials.some((t) => t.rung !== undefined)
  const header = ["rank", "trial", ...keys, ...(halving ? ["rung", "epochs"] : []), input.sweep.metric, "status"]
  const cells = input.trials.map((t, i) => [
    String(i + 1),
    String(t.point),
    ...keys.map((k) => (k in t.params ? show(t.params[k]) : "-")),
    ...(halving ? [String(t.rung ?? "-"), String(t.epochs ?? "-")] : []),
    figure(t.metric),
    t.status
  ])
  return { header, cells }
}

const about = (input: SearchReportInput): Array<readonly [string, string]> => {
  const s = input.sweep
  const counts = new Map<string, number>()
  for (const t of input.trials) counts.set(t.status, (counts.get(t.status) ?? 0) + 1)
  return [
    ["command", s.command],
    ["created", s.createdAt],
    [
      "search",
      s.search === "asha"
        ? `successive halving, rungs of ${s.rungs?.join(", ")} epochs, eta ${s.eta}, ${s.promotion === "async" ? "asynchronous" : "synchronous"} promotion`
        : s.search
    ],
    ["trials", [...counts].map(([k, n]) => `${n} ${k}`).join(", ")],
    ["ranked by", `${s.search === "asha" ? "rung reached, then " : ""}${s.metric} (${s.goal === "min" ? "lower" : "higher"} is better)`]
  ]
}

export const buildSearchReport = async (input: SearchReportInput, outDir: string): Promise<SearchReport> => {
  const dir = join(outDir, "figures")
  mkdirSync(dir, { recursive: true })
  const figures: Array<Figure> = []
  const svgFigure = async (id: string, title: string, caption: string, spec: Record<string, unknown>) => {
    const svg = await toSvg(spec)
    writeFileSync(join(dir, `${id}.svg`), svg)
    figures.push({ id, title, caption, files: [`figures/${id}.svg`], html: inline(svg) })
  }
  const { sweep } = input
  const scored = input.trials.flatMap((t) => (t.metric === null ? [] : [{ point: t.point, params: t.params, metric: t.metric, ...(t.status === "stopped" ? { stopped: true } : {}) }]))
  if (scored.length > 1 && sweptParams(scored).length > 0) {
    const greyed = scored.some((p) => p.stopped)
    await svgFigure(
      "search-parallel-coordinates",
      `The trials of sweep ${sweep.id} in parallel coordinates`,
      `Each trial as a line through its value of each searched param and its ${sweep.metric}` +
        (greyed ? ` at the rung it reached; the trials that reached the last rung are coloured by it, the stopped ones grey.` : `, coloured by ${sweep.metric}.`),
      parallelSpec(sweep.metric, scored)
    )
  }
  const curves: Array<TrialCurve> = input.trials
    .filter((t) => t.curve.length > 0)
    .map((t) => ({ trial: t.point, stopped: t.status === "stopped", points: t.curve }))
  if (curves.length > 0) {
    await svgFigure(
      "search-curves",
      `${sweep.metric} by epoch (sweep ${sweep.id})`,
      `Every trial's ${sweep.metric} after each epoch it trained` +
        (curves.some((c) => c.stopped) ? `; stopped trials are grey and end at the rung where they were stopped.` : "."),
      trialCurvesSpec(sweep.metric, curves)
    )
  }
  const { header, cells } = rows(input)
  const lines = about(input)
  const markdown = [
    `# ${input.title}`,
    "",
    ...lines.map(([k, v]) => `- ${k}: ${v}`),
    "",
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...cells.map((c) => `| ${c.join(" | ")} |`),
    ...(input.notes.length ? ["", ...input.notes.map((n) => `Note: ${n}`)] : [])
  ].join("\n")
  const table = [
    `<table id="trials"><thead><tr>${header.map((h) => `<th>${escape(h)}</th>`).join("")}</tr></thead><tbody>`,
    ...cells.map((c, i) => `<tr class="${escape(input.trials[i]!.status)}" data-trial="${input.trials[i]!.point}">${c.map((x) => `<td>${escape(x)}</td>`).join("")}</tr>`),
    "</tbody></table>"
  ].join("\n")
  const body = [
    "<style>tr.stopped td, tr.failed td { color: #999; }</style>",
    `<dl id="provenance">`,
    ...lines.map(([k, v]) => `<dt>${escape(k)}</dt><dd data-field="${escape(k)}">${escape(v)}</dd>`),
    "</dl>",
    ...input.notes.map((n) => `<p class="note">${escape(n)}</p>`),
    "<h2>Trials</h2>",
    table,
    "<h2>Figures</h2>",
    figuresHtml(figures)
  ].join("\n")
  writeFileSync(join(outDir, "report.html"), pageHtml(input.title, body))
  writeFileSync(join(outDir, "summary.md"), `${markdown}\n`)
  writeFileSync(
    join(outDir, "report.json"),
    `${JSON.stringify({ title: input.title, sweep, trials: input.trials.map(({ curve: _c, ...t }) => t), figures: figures.map(({ html: _h, ...f }) => f), notes: input.notes }, null, 2)}\n`
  )
  return { figures, markdown }
}
