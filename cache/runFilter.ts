/**
 * The query language of `pipe runs` (and, through its parts, of `pipe exps`): `--where FIELD OP VALUE` and
 * `--sort [-]FIELD`, turned into SQL. User text reaches SQLite only as bound values, JSON paths included; a
 * field is a whitelisted column or a checked path under a JSON column.
 */
import { RefError } from "./errors.js"

/** SQL text and the values bound to its `?`s, in text order. */
export interface Sql {
  readonly sql: string
  readonly args: ReadonlyArray<string | number | null>
}

// Fields a query can name, and where each lives. JSON fields are read with json_extract and a bound path.
const COLUMNS: Readonly<Record<string, string>> = {
  id: "r.id",
  key: "r.key",
  pipeline: "r.pipeline",
  stage: "r.stage",
  kind: "r.kind",
  status: "r.status",
  started: "r.started_at",
  duration: "r.duration_ms",
  output: "r.output"
}
const JSON_ROOTS: Readonly<Record<string, { column: string; base: string }>> = {
  params: { column: "r.record", base: "$.params" },
  engine: { column: "r.record", base: "$.engine" },
  inputs: { column: "r.record", base: "$.inputs" },
  config: { column: "r.record", base: "$.config" },
  metrics: { column: "r.metrics", base: "$" }
}
const OPERATORS = ["!=", "<=", ">=", "=", "<", ">"] as const
const SQL_OP: Readonly<Record<(typeof OPERATORS)[number], string>> = {
  "=": "=",
  "!=": "!=",
  "<": "<",
  "<=": "<=",
  ">": ">",
  ">=": ">="
}

export const FIELD_HELP =
  "a field is id, key, pipeline, stage, kind, status, started, duration, output, or params.NAME, metrics.NAME, engine.NAME, inputs.STAGE"

/** A field as SQL: a whitelisted column, or json_extract(column, ?) with the JSON path as a bound value. */
export const fieldSql = (field: string): { sql: string; args: Array<string> } => {
  const column = COLUMNS[field]
  if (column) return { sql: column, args: [] }
  const dot = field.indexOf(".")
  const root = dot > 0 ? JSON_ROOTS[field.slice(0, dot)] : undefined
  const rest = field.slice(dot + 1)
  if (!root || !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(rest)) {
    throw new RefError(`unknown field '${field}': ${FIELD_HELP}`)
  }
  const path = `${root.base}${rest
    .split(".")
    .map((p) => `."${p}"`)
    .join("")}`
  return { sql: `json_extract(${root.column}, ?)`, args: [path] }
}

export interface Condition {
  readonly field: string
  readonly op: (typeof OPERATORS)[number]
  readonly value: string | number | boolean | null
}

/** `params.lr=0.01`, `metrics.test_accuracy>=0.9`, `stage!=download`: typed like YAML scalars. */
export const parseCondition = (text: string, check: (field: string) => unknown = fieldSql, example = "params.lr=0.01"): Condition => {
  const m = /^([^=!<>]+?)\s*(!=|<=|>=|=|<|>)\s*(.*)$/.exec(text)
  if (!m) throw new RefError(`cannot read --where '${text}': write FIELD=VALUE (or !=, <, <=, >, >=), e.g. ${example}`)
  const [, field, op, raw] = m
  check(field!.trim())
  const v = raw!.trim()
  const value =
    v === "true" ? true : v === "false" ? false : v === "null" ? null : v !== "" && Number.isFinite(Number(v)) ? Number(v) : v.replace(/^(["'])(.*)\1$/, "$2")
  return { field: field!.trim(), op: op as Condition["op"], value }
}

/** A condition on an expression (a column, or json_extract with bound paths) as a WHERE term. */
export const conditionSql = (expr: { sql: string; args: ReadonlyArray<string> }, c: Condition): Sql => {
  if (c.value === null) {
    if (c.op !== "=" && c.op !== "!=") throw new RefError(`${c.field}${c.op}null: only = and != compare with null`)
    return { sql: `${expr.sql} IS ${c.op === "=" ? "" : "NOT "}NULL`, args: [...expr.args] }
  }
  // JSON booleans come back from json_extract as 0/1.
  return { sql: `${expr.sql} ${SQL_OP[c.op]} ?`, args: [...expr.args, typeof c.value === "boolean" ? Number(c.value) : c.value] }
}

/** An ORDER BY on an expression: rows without a value last, ties newest first (by `id`). */
export const orderSql = (expr: { sql: string; args: ReadonlyArray<string> }, desc: boolean, id: string): Sql => ({
  sql: `(${expr.sql}) IS NULL, ${expr.sql} ${desc ? "DESC" : "ASC"}, ${id} DESC`,
  args: [...expr.args, ...expr.args]
})

export interface RunFilter {
  readonly pipeline?: string
  readonly stages?: ReadonlyArray<string>
  readonly status?: ReadonlyArray<string>
  readonly sweep?: number
  /** Only pinned runs (with this tag, when a string). */
  readonly pinned?: boolean | string
  readonly where?: ReadonlyArray<Condition>
  /** A field; descending when it starts with "-". Default: newest first. */
  readonly sort?: string
  readonly limit?: number
  /** Rows to skip before the first (with limit: a page). */
  readonly offset?: number
}

/** The run history's query: filtered, sorted and limited in SQL, with user values bound. */
export const runsSql = (f: RunFilter): Sql => {
  const where: Array<string> = []
  const args: Array<string | number | null> = []
  const add = (s: Sql) => {
    where.push(s.sql)
    args.push(...s.args)
  }
  if (f.pipeline !== undefined) add({ sql: "r.pipeline = ?", args: [f.pipeline] })
  if (f.stages && f.stages.length > 0) add({ sql: `r.stage IN (${f.stages.map(() => "?").join(", ")})`, args: f.stages })
  if (f.status && f.status.length > 0) add({ sql: `r.status IN (${f.status.map(() => "?").join(", ")})`, args: f.status })
  if (f.sweep !== undefined) add({ sql: "r.id IN (SELECT run_id FROM sweep_point_runs WHERE sweep_id = ?)", args: [f.sweep] })
  if (f.pinned !== undefined && f.pinned !== false) {
    add(
      typeof f.pinned === "string"
        ? { sql: "r.id IN (SELECT run_id FROM pins WHERE tag = ?)", args: [f.pinned] }
        : { sql: "r.id IN (SELECT run_id FROM pins)", args: [] }
    )
  }
  for (const c of f.where ?? []) add(conditionSql(fieldSql(c.field), c))
  let order = "r.id DESC"
  if (f.sort) {
    const desc = f.sort.startsWith("-")
    const o = orderSql(fieldSql(desc ? f.sort.slice(1) : f.sort), desc, "r.id")
    order = o.sql
    args.push(...o.args)
  }
  const sql = `SELECT r.* FROM runs r${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY ${order}${f.limit ? " LIMIT ?" : ""}${f.limit && f.offset ? " OFFSET ?" : ""}`
  if (f.limit) args.push(f.limit)
  if (f.limit && f.offset) args.push(f.offset)
  // Bound in text order: the WHERE values, then the ORDER BY paths, then the limit and offset.
  return { sql, args }
}
