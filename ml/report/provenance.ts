/**
 * Where a report's numbers come from, as stated at its top (pure, no IO): the pipe version and git commit of
 * the runs that trained and evaluated the models, the data they saw (the whole data set or a subset), the run
 * numbers of the evaluations (with their sweep and points when a sweep made them) and, when the caller knows
 * them, the experiments they belong to. The caller gathers the facts (the analyze stage from its inputs,
 * `pipe report` from the store); this module only words them, once for summary.md and once for report.html.
 */

/** A recorded run, as far as provenance goes. */
export interface RunStamp {
  readonly id: number
  readonly pipeVersion: string | null
  readonly gitCommit: string | null
}

/** One reported model: the runs that trained and evaluated it, and the sweep points it was made in. */
export interface ReportedRun {
  readonly label: string
  readonly train?: RunStamp
  readonly evaluate?: RunStamp
  readonly sweep?: { readonly id: number; readonly points: ReadonlyArray<number> }
}

export interface Provenance {
  readonly runs: ReadonlyArray<ReportedRun>
  /** The data the models saw: "full data", or the subset the download stage's `limit` took (see dataSubset). */
  readonly data: string
  /** When the report compares a sweep's points. */
  readonly sweep?: { readonly id: number; readonly points: ReadonlyArray<number> }
  /** The experiments the reported runs belong to, when the caller knows them; empty or absent otherwise. */
  readonly experiments?: ReadonlyArray<string>
}

/**
 * The data subset an image set was made from, read from its manifest's meta: the download stage records its
 * `limit` there, and split keeps the dataset's meta as `datasetMeta`. Without a limit it is the full data.
 */
export const dataSubset = (meta: Readonly<Record<string, unknown>> | undefined): string => {
  const limitOf = (m: unknown): number | undefined => {
    if (typeof m !== "object" || m === null) return undefined
    const r = m as Record<string, unknown>
    return typeof r["limit"] === "number" ? r["limit"] : limitOf(r["datasetMeta"])
  }
  const limit = limitOf(meta)
  return limit === undefined ? "full data" : `subset: the first ${limit.toLocaleString("en")} images of each split (download limit=${limit})`
}

const runList = (ids: ReadonlyArray<number>) => `${ids.length === 1 ? "run" : "runs"} ${ids.map((i) => `#${i}`).join(", ")}`

/** Distinct values of one field over every stamp, each with the runs that have it; one value is said once. */
const byValue = (stamps: ReadonlyArray<RunStamp>, field: "pipeVersion" | "gitCommit", show: (v: string | null) => string): string => {
  const groups = new Map<string | null, Array<number>>()
  for (const s of stamps) {
    const ids = groups.get(s[field]) ?? groups.set(s[field], []).get(s[field])!
    if (!ids.includes(s.id)) ids.push(s.id)
  }
  if (groups.size === 0) return "unknown (no recorded runs)"
  if (groups.size === 1) return show([...groups.keys()][0]!)
  return [...groups].map(([v, ids]) => `${show(v)} (${runList(ids)})`).join("; ")
}

const points = (ps: ReadonlyArray<number>) => `${ps.length === 1 ? "point" : "points"} ${ps.join(", ")}`

/** The provenance as (label, text) lines, in the order both renderings show them. */
export const provenanceLines = (p: Provenance): Array<readonly [string, string]> => {
  const stamps = p.runs.flatMap((r) => [r.train, r.evaluate].filter((s): s is RunStamp => s !== undefined))
  const lines: Array<readonly [string, string]> = [
    ["pipe version", byValue(stamps, "pipeVersion", (v) => v ?? "not recorded")],
    ["git commit", byValue(stamps, "gitCommit", (v) => v ?? "none (not run in a git repository)")],
    ["data", p.data],
    [
      "evaluations",
      p.runs
        .map((r) => {
          const runs = [r.evaluate && `evaluate #${r.evaluate.id}`, r.train && `train #${r.train.id}`].filter(Boolean).join(", ")
          const sweep = r.sweep && !p.sweep ? `; sweep ${r.sweep.id} ${points(r.sweep.points)}` : r.sweep ? `; ${points(r.sweep.points)}` : ""
          return `${r.label} (${runs || "no recorded run"}${sweep})`
        })
        .join("; ")
    ]
  ]
  if (p.sweep) lines.push(["sweep", `${p.sweep.id}, ${points(p.sweep.points)}`])
  if (p.experiments && p.experiments.length > 0) lines.push(["experiments", p.experiments.join(", ")])
  return lines
}

export const provenanceMarkdown = (p: Provenance): string => provenanceLines(p).map(([k, v]) => `- ${k}: ${v}`).join("\n")

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

export const provenanceHtml = (p: Provenance): string =>
  [
    `<dl id="provenance">`,
    ...provenanceLines(p).map(([k, v]) => `<dt>${escape(k)}</dt><dd data-field="${escape(k)}">${escape(v)}</dd>`),
    `</dl>`
  ].join("\n")
