/**
 * The query language of `pipe exps`: fields name stage-qualified keys (`STAGE.NAME`, a param, else a figure;
 * `params.STAGE.NAME`, `metrics.STAGE.NAME`), a column (id, name, status, created, sweep, point, commit,
 * pipeline) or `tag`. Conditions and sorting are turned into SQL with the parts runFilter.ts shares; user text
 * reaches SQLite only as bound values, JSON paths included.
 */
import { RefError } from "./errors.js"
import { conditionSql, orderSql, parseCondition, type Condition, type Sql } from "./runFilter.js"

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

/** The JSON path of a stage-qualified key: one quoted member, since the key itself holds dots. */
export const keyPath = (key: string) => `$."${key}"`

/** A key field as SQL: the param's value, else the figure's (json_extract with bound paths). */
const keySql = (f: Extract<ExpField, { _tag: "key" }>): { sql: string; args: Array<string> } => {
  const parts = f.in.map((root) => `json_extract(e.${root}, ?)`)
  return { sql: parts.length === 1 ? parts[0]! : `COALESCE(${parts.join(", ")})`, args: f.in.map(() => keyPath(f.key)) }
}

const valueSql = (field: Exclude<ExpField, { _tag: "tag" }>) => (field._tag === "column" ? { sql: field.sql, args: [] } : keySql(field))

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
  /** Rows to skip before the first (with limit: a page). */
  readonly offset?: number
}

/** The experiments a filter selects: filtered, sorted and limited in SQL. */
export const experimentsSql = (f: ExpFilter): Sql => {
  const where: Array<string> = []
  const args: Array<string | number | null> = []
  const add = (s: Sql) => {
    where.push(s.sql)
    args.push(...s.args)
  }
  if (f.pipeline !== undefined) add({ sql: "e.pipeline = ?", args: [f.pipeline] })
  if (f.sweep !== undefined) add({ sql: "e.sweep_id = ?", args: [f.sweep] })
  for (const t of f.tags ?? []) add({ sql: "EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment = e.id AND t.tag = ?)", args: [t] })
  for (const c of f.where ?? []) {
    const field = expField(c.field)
    if (field._tag === "tag") {
      if (c.op !== "=" && c.op !== "!=") throw new RefError(`${c.field}${c.op}${String(c.value)}: a tag is compared with = or !=`)
      add({ sql: `${c.op === "=" ? "" : "NOT "}EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment = e.id AND t.tag = ?)`, args: [String(c.value)] })
      continue
    }
    add(conditionSql(valueSql(field), c))
  }
  let order = "e.id DESC"
  if (f.sort) {
    const desc = f.sort.startsWith("-")
    const field = expField(desc ? f.sort.slice(1) : f.sort)
    if (field._tag === "tag") throw new RefError("cannot sort by tag: sort by a param, a figure, id, name, created or status")
    const o = orderSql(valueSql(field), desc, "e.id")
    order = o.sql
    args.push(...o.args)
  }
  const sql = `SELECT e.* FROM experiments e${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY ${order}${f.limit ? " LIMIT ?" : ""}${f.limit && f.offset ? " OFFSET ?" : ""}`
  if (f.limit) args.push(f.limit)
  if (f.limit && f.offset) args.push(f.offset)
  return { sql, args }
}
