/**
 * How `pipe report` names the models it compares (pure, no IO). A model is named by the train stage that made
 * it; an evaluation a sweep point made is named by the swept params that set it apart: those whose value
 * differs between the sweep's points, that reach the evaluation (params of its upstream stages), and that are
 * the same in every point that shared it. Legends, tables and figure names need one label per model, so
 * labels that still collide get the evaluation's run number.
 */

/** A sweep point and the params it set (`STAGE.PARAM` -> value). */
export interface PointParams {
  readonly point: number
  readonly params: Readonly<Record<string, unknown>>
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)

/** The params whose values differ between the points: only they tell points apart. */
export const varyingParams = (points: ReadonlyArray<PointParams>): Array<string> =>
  [...new Set(points.flatMap((p) => Object.keys(p.params)))].filter((k) => points.some((p) => !same(p.params[k], points[0]!.params[k])))

/** `STAGE.PARAM` reaches a run when STAGE is the run's stage or one upstream of it. */
const reaches = (key: string, upstream: ReadonlySet<string>) => [...upstream].some((s) => key.startsWith(`${s}.`))

/**
 * The params that set one evaluation apart in its sweep: varying across `all` points, reaching it (every
 * param does when `upstream` is unknown), and equal in each of the points that used it (`own`).
 */
export const distinguishing = (
  own: ReadonlyArray<PointParams>,
  all: ReadonlyArray<PointParams>,
  upstream: ReadonlySet<string> | undefined
): Array<readonly [string, unknown]> => {
  if (own.length === 0) return []
  return varyingParams(all)
    .filter((k) => upstream === undefined || reaches(k, upstream))
    .filter((k) => own.every((p) => same(p.params[k], own[0]!.params[k])))
    .map((k) => [k, own[0]!.params[k]] as const)
}

const text = (params: ReadonlyArray<readonly [string, unknown]>) =>
  params.map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ")

const pointList = (own: ReadonlyArray<PointParams>) => `${own.length === 1 ? "point" : "points"} ${own.map((p) => p.point).join(", ")}`

/**
 * A model's label in a sweep's report: its distinguishing params (`train-mlp.lr=0.002`), after the train stage's
 * name unless every param is that stage's own; a model no swept param reaches is named by its stage and the
 * points that shared it.
 */
export const sweepLabel = (
  base: string,
  own: ReadonlyArray<PointParams>,
  all: ReadonlyArray<PointParams>,
  upstream: ReadonlySet<string> | undefined
): string => {
  const params = distinguishing(own, all, upstream)
  if (params.length === 0) return own.length > 1 ? `${base} (shared by ${own.length} points)` : base
  return params.every(([k]) => k.startsWith(`${base}.`)) ? text(params) : `${base} ${text(params)}`
}

/**
 * A model's label outside a sweep's report when a sweep point made its evaluation:
 * `train-mlp (sweep 3 point 2: train-mlp.lr=0.003)`. Undefined when no swept param reaches it (every point
 * made the same model), so it keeps its plain name.
 */
export const sweptLabel = (
  base: string,
  sweep: number,
  own: ReadonlyArray<PointParams>,
  all: ReadonlyArray<PointParams>,
  upstream: ReadonlySet<string> | undefined
): string | undefined => {
  const params = distinguishing(own, all, upstream)
  return params.length === 0 ? undefined : `${base} (sweep ${sweep} ${pointList(own)}: ${text(params)})`
}

/** Labels made distinct: each label several models share gets their run numbers (`train-mlp #12`). */
export const distinctLabels = (models: ReadonlyArray<{ readonly label: string; readonly run: number }>): Array<string> => {
  const count = new Map<string, number>()
  for (const m of models) count.set(m.label, (count.get(m.label) ?? 0) + 1)
  return models.map((m) => (count.get(m.label)! > 1 ? `${m.label} #${m.run}` : m.label))
}
