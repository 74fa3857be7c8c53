/**
 * Experiments: each `pipe run` and each sweep point, with an id, an optional name and tags, the effective params
 * of every stage it used and the figures every stage reported, both stage-qualified (`train-mlp.lr`,
 * `evaluate-mlp.test_accuracy`), and the run of each stage. Params and figures are copied into the experiment's
 * row, so the history stays queryable after gc has removed the runs themselves.
 *
 * Queries name fields as `STAGE.NAME` (a param, else a figure), `params.STAGE.NAME`, `metrics.STAGE.NAME`, or a
 * column (id, name, status, created, sweep, point, commit, pipeline) or `tag`. User text reaches SQLite only as
 * bound values, JSON paths included.
 */
import type { Db } from "./db.js"
import { RefError } from "./errors.js"
import { parseCondition, type Condition } from "./runFilter.js"

export interface ExperimentDraft {
  readonly pipeline: string
  readonly name?: string | undefined
  readonly tags?: ReadonlyArray<string>
  /** The command line that made it (`pipe run --set ...`, `pipe sweep ...`). */
  readonly command: string
  /** The sweep point it is, for a sweep's points (point numbered from 1). */
  readonly sweep?: { readonly id: number; readonly point: number }
  readonly status: "ok" | "failed"
  /** Stage-qualified params: { "train-mlp.lr": 0.001 }. */
  readonly params: Readonly<Record<string, unknown>>
  /** Stage-qualified figures: { "evaluate-mlp.test_accuracy": 0.81 }. */
  readonly metrics: Readonly<Record<string, unknown>>
  /** The run of each stage that ran or was restored. */
  readonly runs: Readonly<Record<string, number>>
  readonly gitCommit: string | null
  readonly pipeVersion: string | null
}

export interface ExperimentInfo {
  readonly id: number
  readonly pipeline: string
  readonly name: string | null
  readonly tags: ReadonlyArray<string>
  readonly createdAt: number
  readonly status: string
  readonly command: string
  readonly sweep: number | null
  readonly point: number | null
  readonly gitCommit: string | null
  readonly pipeVersion: string | null
  readonly params: Readonly<Record<string, unknown>>
  readonly metrics: Readonly<Record<string, unknown>>
  readonly runs: Readonly<Record<string, number>>
  /** Runs it names that gc has removed (its params and figures stay here). */
  readonly runsGone: number
}

interface Row {
  id: number
  pipeline: string
  name: string | null
  created_at: number
  status: string
  command: string
  sweep_id: number | null
  point: number | null
  git_commit: string | null
  pipe_version: string | null
  params: string
  metrics: string
  runs: string
}

/** How experiments are shown and referred to: e12. */
export const expLabel = (id: number): string => `e${id}`

/** Tags and names are words a person types: letters, digits, `.`, `_`, `-`, `:`, `/`, `@`, `+`. */
const WORD = /^[A-Za-z0-9_][A-Za-z0-9_.:/@+-]{0,99}$/

export const checkWord = (what: "name" | "tag", w: string): string => {
  if (!WORD.test(w)) {
    throw new RefError(
      `invalid ${what} '${w}': use letters, digits and . _ - : / @ + (up to 100, not starting with a symbol), e.g. baseline or lr-sweep/2`
    )
  }
  if (/^e\d+$/.test(w)) throw new RefError(`invalid ${what} '${w}': e<number> is how experiments are numbered; pick another`)
  return w
}

/**
 * Records an experiment and returns its id. A plain `pipe run` (no name, tags or sweep) that used exactly the
 * runs of the pipeline's latest plain experiment, with the same outcome, is that experiment again: running a
 * cached pipeline twice does not make two.
 */
export const recordExperiment = (db: Db, d: ExperimentDraft, now = Date.now()): { id: number; reused: boolean } =>
  db.transaction(() => {
    const params = JSON.stringify(d.params)
    const metrics = JSON.stringify(d.metrics)
    const runs = JSON.stringify(d.runs)
    const tags = [...new Set(d.tags ?? [])].map((t) => checkWord("tag", t))
    if (d.name !== undefined) checkWord("name", d.name)
    if (d.name === undefined && tags.length === 0 && d.sweep === undefined) {
      const last = db
        .prepare<[string], Row>("SELECT * FROM experiments WHERE pipeline = ? AND sweep_id IS NULL ORDER BY id DESC LIMIT 1")
        .get(d.pipeline)
      if (last && last.runs === runs && last.status === d.status && last.params === params && last.metrics === metrics) {
        return { id: last.id, reused: true }
      }
    }
    const id = Number(
      db
        .prepare(
          `INSERT INTO experiments (pipeline, name, created_at, status, command, sweep_id, point, git_commit, pipe_version, params, metrics, runs)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
        )
        .run(d.pipeline, d.name ?? null, now, d.status, d.command, d.sweep?.id ?? null, d.sweep?.point ?? null, d.gitCommit, d.pipeVersion, params, metrics, runs)
        .lastInsertRowid
    )
    const tag = db.prepare("INSERT OR IGNORE INTO experiment_tags (experiment, tag) VALUES (?, ?)")
    for (const t of tags) tag.run(id, t)
    const run = db.prepare("INSERT OR REPLACE INTO experiment_runs (experiment, stage, run_id) VALUES (?, ?, ?)")
    for (const [stage, r] of Object.entries(d.runs)) run.run(id, stage, r)
    return { id, reused: false }
  }).immediate()

/** Adds tags to an experiment, or removes them; returns how many changed. */
export const tagExperiment = (db: Db, id: number, tags: ReadonlyArray<string>, remove = false): number =>
  db.transaction(() => {
    const s = remove
      ? db.prepare("DELETE FROM experiment_tags WHERE experiment = ? AND tag = ?")
      : db.prepare("INSERT OR IGNORE INTO experiment_tags (experiment, tag) VALUES (?, ?)")
    return tags.reduce((n, t) => n + s.run(id, remove ? t : checkWord("tag", t)).changes, 0)
  }).immediate()

/** Names (or renames) an experiment; null removes its name. */
export const nameExperiment = (db: Db, id: number, name: string | null): void => {
  db.prepare("UPDATE experiments SET name = ? WHERE id = ?").run(name === null ? null : checkWord("name", name), id)
}

// ---------------------------------------------------------------------------------------------------------
// Fields and filters

const COLUMNS: Readonly<Record<string, string>> = {
  id: "e.id",
  name: "e.name",
  pipeline: "e.pipeline",
  status: "e.status",
  created: "e.created_at",
  sweep: "e.sweep_id",
  point: "e.point",
  commit: "e.git_commit"
}

export const EXP_FIELD_HELP =
  "a field is STAGE.NAME (a param, else a figure: train-mlp.lr, evaluate-mlp.test_accuracy), params.STAGE.NAME, metrics.STAGE.NAME, " +
  "or one of id, name, tag, status, created, sweep, point, commit, pipeline"

const KEY = /^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)+$/

/** Where a field lives: a column, a tag test, or stage-qualified keys in the params and/or metrics JSON. */
export type ExpField =
  | { readonly _tag: "column"; readonly sql: string }
  | { readonly _tag: "tag" }
  | { readonly _tag: "key"; readonly key: string; readonly in: ReadonlyArray<"params" | "metrics"> }

export const expField = (field: string): ExpField => {
  const column = COLUMNS[field]
  if (column) return { _tag: "column", sql: column }
  if (field === "tag" || field === "tags") return { _tag: "tag" }
  const prefix = /^(params|metrics)\.(.+)$/.exec(field)
  const key = prefix ? prefix[2]! : field
  if (!KEY.test(key)) throw new RefError(`unknown field '${field}': ${EXP_FIELD_HELP}`)
  return { _tag: "key", key, in: prefix ? [prefix[1] as "params" | "metrics"] : ["params", "metrics"] }
}

const path = (key: string) => `$."${key}"`

/** A key field as SQL: the param's value, else the figure's (json_extract with bound paths). */
const keySql = (f: Extract<ExpField, { _tag: "key" }>): { sql: string; args: Array<string> } => {
  const parts = f.in.map((root) => `json_extract(e.${root}, ?)`)
  return { sql: parts.length === 1 ? parts[0]! : `COALESCE(${parts.join(", ")})`, args: f.in.map(() => path(f.key)) }
}

export const parseExpCondition = (text: string): Condition => parseCondition(text, expField, "train-mlp.lr=0.001")

export interface ExpFilter {
  readonly pipeline?: string
  readonly sweep?: number
  /** Experiments carrying every one of these tags. */
  readonly tags?: ReadonlyArray<string>
  readonly where?: ReadonlyArray<Condition>
  /** A field; descending when it starts with "-". Default: newest first. */
  readonly sort?: string
  readonly limit?: number
}

const SQL_OP: Readonly<Record<Condition["op"], string>> = { "=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=" }

const info = (db: Db, r: Row): ExperimentInfo => ({
  id: r.id,
  pipeline: r.pipeline,
  name: r.name,
  tags: db
    .prepare<[number], { tag: string }>("SELECT tag FROM experiment_tags WHERE experiment = ? ORDER BY tag")
    .all(r.id)
    .map((t) => t.tag),
  createdAt: r.created_at,
  status: r.status,
  command: r.command,
  sweep: r.sweep_id,
  point: r.point,
  gitCommit: r.git_commit,
  pipeVersion: r.pipe_version,
  params: JSON.parse(r.params) as Record<string, unknown>,
  metrics: JSON.parse(r.metrics) as Record<string, unknown>,
  runs: JSON.parse(r.runs) as Record<string, number>,
  runsGone: db
    .prepare<[number], { n: number }>(
      "SELECT COUNT(*) AS n FROM experiment_runs x WHERE x.experiment = ? AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = x.run_id)"
    )
    .get(r.id)!.n
})

/** Every key the experiments (of a pipeline) have, params and figures: for "did you mean" on a typo. */
export const knownKeys = (db: Db, pipeline?: string): Array<string> =>
  db
    .prepare<Array<string | null>, { key: string }>(
      `SELECT DISTINCT j.key AS key FROM experiments e, json_each(e.params) j WHERE ? IS NULL OR e.pipeline = ?
       UNION SELECT DISTINCT j.key FROM experiments e, json_each(e.metrics) j WHERE ? IS NULL OR e.pipeline = ?`
    )
    .all(pipeline ?? null, pipeline ?? null, pipeline ?? null, pipeline ?? null)
    .map((r) => r.key)

/** Whether any experiment (of a pipeline) has this key among its params or figures. */
export const hasKey = (db: Db, f: ExpField, pipeline?: string): boolean => {
  if (f._tag !== "key") return true
  const tests = f.in.map((root) => `json_type(e.${root}, ?) IS NOT NULL`).join(" OR ")
  return (
    db
      .prepare<Array<string | null>, { n: number }>(`SELECT 1 AS n FROM experiments e WHERE (${tests}) AND (? IS NULL OR e.pipeline = ?) LIMIT 1`)
      .get(...f.in.map(() => path(f.key)), pipeline ?? null, pipeline ?? null) !== undefined
  )
}

/** The experiments a filter selects: filtered, sorted and limited in SQL. */
export const listExperiments = (db: Db, f: ExpFilter = {}): Array<ExperimentInfo> => {
  const where: Array<string> = []
  const args: Array<string | number | null> = []
  if (f.pipeline !== undefined) {
    where.push("e.pipeline = ?")
    args.push(f.pipeline)
  }
  if (f.sweep !== undefined) {
    where.push("e.sweep_id = ?")
    args.push(f.sweep)
  }
  for (const t of f.tags ?? []) {
    where.push("EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment = e.id AND t.tag = ?)")
    args.push(t)
  }
  for (const c of f.where ?? []) {
    const field = expField(c.field)
    if (field._tag === "tag") {
      if (c.op !== "=" && c.op !== "!=") throw new RefError(`${c.field}${c.op}${String(c.value)}: a tag is compared with = or !=`)
      where.push(`${c.op === "=" ? "" : "NOT "}EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment = e.id AND t.tag = ?)`)
      args.push(String(c.value))
      continue
    }
    const { sql, args: a } = field._tag === "column" ? { sql: field.sql, args: [] } : keySql(field)
    if (c.value === null) {
      if (c.op !== "=" && c.op !== "!=") throw new RefError(`${c.field}${c.op}null: only = and != compare with null`)
      where.push(`${sql} IS ${c.op === "=" ? "" : "NOT "}NULL`)
      args.push(...a)
    } else {
      where.push(`${sql} ${SQL_OP[c.op]} ?`)
      args.push(...a, typeof c.value === "boolean" ? Number(c.value) : c.value)
    }
  }
  let order = "e.id DESC"
  if (f.sort) {
    const desc = f.sort.startsWith("-")
    const field = expField(desc ? f.sort.slice(1) : f.sort)
    if (field._tag === "tag") throw new RefError("cannot sort by tag: sort by a param, a figure, id, name, created or status")
    const { sql, args: a } = field._tag === "column" ? { sql: field.sql, args: [] } : keySql(field)
    order = `(${sql}) IS NULL, ${sql} ${desc ? "DESC" : "ASC"}, e.id DESC`
    args.push(...a, ...a)
  }
  const sql = `SELECT e.* FROM experiments e${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY ${order}${f.limit ? " LIMIT ?" : ""}`
  if (f.limit) args.push(f.limit)
  return db.prepare<Array<string | number | null>, Row>(sql).all(...args).map((r) => info(db, r))
}

export const experiment = (db: Db, id: number): ExperimentInfo | undefined => {
  const r = db.prepare<[number], Row>("SELECT * FROM experiments WHERE id = ?").get(id)
  return r && info(db, r)
}

/**
 * The experiment a reference names: `e12` (or `12`), else the newest experiment with that name, else the newest
 * with that tag. Undefined when nothing matches.
 */
export const resolveExperiment = (db: Db, ref: string, pipeline?: string): ExperimentInfo | undefined => {
  const n = /^e?(\d+)$/.exec(ref)
  if (n) return experiment(db, Number(n[1]))
  const scope = pipeline === undefined ? "" : " AND e.pipeline = ?"
  const extra = pipeline === undefined ? [] : [pipeline]
  const byName = db.prepare<Array<string>, Row>(`SELECT e.* FROM experiments e WHERE e.name = ?${scope} ORDER BY e.id DESC LIMIT 1`).get(ref, ...extra)
  if (byName) return info(db, byName)
  const byTag = db
    .prepare<Array<string>, Row>(
      `SELECT e.* FROM experiments e JOIN experiment_tags t ON t.experiment = e.id WHERE t.tag = ?${scope} ORDER BY e.id DESC LIMIT 1`
    )
    .get(ref, ...extra)
  return byTag && info(db, byTag)
}

/** The experiments that used a run. */
export const experimentsOfRun = (db: Db, run: number): Array<number> =>
  db
    .prepare<[number], { id: number }>("SELECT DISTINCT experiment AS id FROM experiment_runs WHERE run_id = ? ORDER BY experiment")
    .all(run)
    .map((r) => r.id)

// ---------------------------------------------------------------------------------------------------------
// Comparing two experiments

export interface ExperimentDiff {
  readonly a: number
  readonly b: number
  /** Params that differ (absent on one side: null). */
  readonly params: ReadonlyArray<{ key: string; a: unknown; b: unknown }>
  /** Figures that differ, with b - a where both are numbers. */
  readonly metrics: ReadonlyArray<{ key: string; a: unknown; b: unknown; delta: number | null }>
  /** Stages whose run differs (null where the stage was not part of one of them). */
  readonly runs: ReadonlyArray<{ stage: string; a: number | null; b: number | null }>
  /** Stages both used the same run of: their params and inputs are identical. */
  readonly shared: ReadonlyArray<string>
}

const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y)

const keysOf = (x: Readonly<Record<string, unknown>>, y: Readonly<Record<string, unknown>>) => [...new Set([...Object.keys(x), ...Object.keys(y)])]

export const diffExperiments = (a: ExperimentInfo, b: ExperimentInfo): ExperimentDiff => ({
  a: a.id,
  b: b.id,
  params: keysOf(a.params, b.params)
    .filter((k) => !same(a.params[k], b.params[k]))
    .map((key) => ({ key, a: a.params[key] ?? null, b: b.params[key] ?? null })),
  metrics: keysOf(a.metrics, b.metrics)
    .filter((k) => !same(a.metrics[k], b.metrics[k]))
    .map((key) => {
      const va = a.metrics[key]
      const vb = b.metrics[key]
      return { key, a: va ?? null, b: vb ?? null, delta: typeof va === "number" && typeof vb === "number" ? vb - va : null }
    }),
  runs: keysOf(a.runs, b.runs)
    .filter((s) => a.runs[s] !== b.runs[s])
    .map((stage) => ({ stage, a: a.runs[stage] ?? null, b: b.runs[stage] ?? null })),
  shared: Object.keys(a.runs).filter((s) => a.runs[s] === b.runs[s])
})
