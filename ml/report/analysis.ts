/**
 * The report's numbers, from evaluation results alone (pure, no IO): how each class's errors spread over the
 * predicted classes, the most confused (true, predicted) pairs, and the model comparison table.
 */

/** A confusion matrix indexed [true][predicted]. */
export type Confusion = ReadonlyArray<ReadonlyArray<number>>

export interface ClassErrors {
  readonly trueClass: number
  /** The class's name (Fashion-MNIST's: T-shirt/top, Trouser, ...), or its number when the names are unknown. */
  readonly name: string
  readonly total: number
  readonly errors: number
  /** Errors by predicted class (the true class itself is 0). */
  readonly byPredicted: ReadonlyArray<number>
}

/** For each true class, by name: how many of its test images were misclassified, and as what. */
export const errorBreakdown = (confusion: Confusion, classes: ReadonlyArray<string>): Array<ClassErrors> =>
  confusion.map((row, t) => {
    const byPredicted = row.map((n, p) => (p === t ? 0 : n))
    return {
      trueClass: t,
      name: classes[t] ?? String(t),
      total: row.reduce((a, b) => a + b, 0),
      errors: byPredicted.reduce((a, b) => a + b, 0),
      byPredicted
    }
  })

export interface Pair {
  readonly trueClass: number
  readonly predicted: number
  readonly count: number
}

/** The k most frequent misclassifications, most frequent first; ties in (true, predicted) order. */
export const confusedPairs = (confusion: Confusion, k: number): Array<Pair> =>
  confusion
    .flatMap((row, t) => row.map((count, p) => ({ trueClass: t, predicted: p, count })))
    .filter((p) => p.trueClass !== p.predicted && p.count > 0)
    .sort((a, b) => b.count - a.count || a.trueClass - b.trueClass || a.predicted - b.predicted)
    .slice(0, k)

/**
 * Pairs to show as galleries: the named pairs first (the seed's T-shirt/top <-> Shirt), then the most confused
 * others, k in all. Names are matched case-insensitively against the class names.
 */
export const galleryPairs = (
  confusion: Confusion,
  classes: ReadonlyArray<string>,
  named: ReadonlyArray<readonly [string, string]>,
  k: number
): Array<Pair> => {
  const index = (name: string) => classes.findIndex((c) => c.toLowerCase() === name.toLowerCase())
  const chosen: Array<Pair> = []
  for (const [a, b] of named) {
    const t = index(a)
    const p = index(b)
    if (t >= 0 && p >= 0 && t !== p) chosen.push({ trueClass: t, predicted: p, count: confusion[t]?.[p] ?? 0 })
  }
  for (const pair of confusedPairs(confusion, confusion.length * confusion.length)) {
    if (chosen.length >= k) break
    if (!chosen.some((c) => c.trueClass === pair.trueClass && c.predicted === pair.predicted)) chosen.push(pair)
  }
  return chosen.slice(0, Math.max(k, named.length))
}

export interface ComparisonRow {
  readonly label: string
  readonly model: string
  readonly parameters: number
  readonly msPerImage: number | null
  readonly testAccuracy: number
  readonly trainSeconds: number | null
  readonly engine: string
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`
const ms = (x: number | null) => (x === null ? "-" : x < 0.1 ? x.toFixed(3) : x.toFixed(2))
const secs = (x: number | null) => (x === null ? "-" : x < 120 ? `${x.toFixed(1)} s` : `${(x / 60).toFixed(1)} min`)

/** The seed's comparison table as Markdown, best test accuracy first. */
export const comparisonMarkdown = (rows: ReadonlyArray<ComparisonRow>): string => {
  const sorted = [...rows].sort((a, b) => b.testAccuracy - a.testAccuracy)
  return [
    "| run | model | parameters | inference (ms/image, batched) | test accuracy | training time | engine |",
    "|---|---|---:|---:|---:|---:|---|",
    ...sorted.map(
      (r) =>
        `| ${r.label} | ${r.model} | ${r.parameters.toLocaleString("en")} | ${ms(r.msPerImage)} | ${pct(r.testAccuracy)} | ${secs(r.trainSeconds)} | ${r.engine} |`
    )
  ].join("\n")
}
