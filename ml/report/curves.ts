/**
 * Training curves as the report plots them (pure, no IO): the loss records of a model's history placed on an
 * epoch axis, so that models trained with different batch sizes (a different number of steps per epoch) line
 * up, and the y-range of a chart chosen from the data so that a few far-out values (the first batches' loss,
 * a diverged epoch) do not flatten every other curve.
 */

type History = ReadonlyArray<Readonly<Record<string, unknown>>>

const num = (x: unknown): number | undefined => (typeof x === "number" && Number.isFinite(x) ? x : undefined)

/**
 * The training loss of each step record, at its fractional epoch: a step s of epoch e lies at
 * e - 1 + (s - first) / (last - first), where first and last are the global steps at the ends of epochs e - 1
 * and e (from the epoch records; the last step record of an epoch when its epoch record is missing).
 */
export const lossByEpoch = (history: History): Array<{ epoch: number; loss: number }> => {
  const steps = history.filter((h) => h["type"] === "step" && num(h["epoch"]) !== undefined && num(h["step"]) !== undefined && num(h["loss"]) !== undefined)
  const end = new Map<number, number>()
  for (const s of steps) end.set(s["epoch"] as number, Math.max(end.get(s["epoch"] as number) ?? -Infinity, s["step"] as number))
  for (const h of history) {
    const e = num(h["epoch"])
    const s = num(h["step"])
    if (h["type"] === "epoch" && e !== undefined && s !== undefined) end.set(e, s)
  }
  return steps.map((h) => {
    const e = h["epoch"] as number
    const last = end.get(e)!
    const first = end.get(e - 1) ?? 0
    const fraction = last > first ? Math.min(1, Math.max(0, ((h["step"] as number) - first) / (last - first))) : 1
    return { epoch: e - 1 + fraction, loss: h["loss"] as number }
  })
}

/** The q-quantile of sorted values, linearly interpolated. */
const quantile = (sorted: ReadonlyArray<number>, q: number): number => {
  const at = (sorted.length - 1) * q
  const lo = Math.floor(at)
  const hi = Math.ceil(at)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo)
}

/**
 * A y-range for curves: the data's, with values beyond Tukey's far-out fence (3 interquartile ranges past the
 * quartiles) left outside, on the side where outliers hurt: the top for a loss (an early spike), the bottom
 * for an accuracy (a first epoch near chance). An accuracy stays within [0, 1]. Undefined without data.
 */
export const curveDomain = (values: ReadonlyArray<number>, kind: "loss" | "accuracy"): readonly [number, number] | undefined => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b)
  if (sorted.length === 0) return undefined
  const q1 = quantile(sorted, 0.25)
  const q3 = quantile(sorted, 0.75)
  const fence = 3 * (q3 - q1)
  let lo = sorted[0]!
  let hi = sorted[sorted.length - 1]!
  if (kind === "loss") hi = Math.min(hi, q3 + fence)
  else lo = Math.max(lo, q1 - fence)
  const pad = Math.max((hi - lo) * 0.05, Math.abs(hi) * 0.01, 1e-6)
  lo -= pad
  hi += pad
  if (kind === "loss") lo = Math.max(lo, Math.min(0, sorted[0]!))
  else {
    lo = Math.max(0, lo)
    hi = Math.min(1, hi)
  }
  return [lo, hi]
}
