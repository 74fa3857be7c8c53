/**
 * The experiment report: every figure of the seed's analysis, from the artifacts of one or more runs, written
 * as separate files (SVG charts, PNG images) and as one self-contained report.html (everything embedded, no
 * network needed), with summary.md holding the model comparison table. Both open with the report's provenance
 * (versions, commits, data, runs). A sweep's report adds its metric against each swept param and a
 * parallel-coordinates view of its points. Used by the `analyze` stage and by `pipe report`, which gather the
 * same inputs from the store.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { gridPng } from "../png.js"
import { comparisonMarkdown, errorBreakdown, galleryPairs, type ComparisonRow } from "./analysis.js"
import {
  confusionCells,
  confusionSpec,
  errorsSpec,
  lossSpec,
  metricVsParamSpec,
  numericParams,
  parallelSpec,
  scatterSpec,
  sweptParams,
  inline,
  toSvg,
  valAccuracySpec,
  type SweepPoint
} from "./charts.js"
import { lossByEpoch } from "./curves.js"
import { pca2d, rows, tsne2d } from "./embed.js"
import { gallery } from "./gallery.js"
import { labelledGrid } from "./labelledGrid.js"
import { provenanceHtml, provenanceMarkdown, type Provenance } from "./provenance.js"

/** What evaluate writes in metrics.json (the fields the report reads). */
export interface Evaluation {
  readonly test_accuracy: number
  readonly test_loss: number
  readonly confusion: ReadonlyArray<ReadonlyArray<number>>
  readonly parameters: number
  /** Only in artifacts of evaluate before version 3: the timings are now in the run's record (RunData.timings). */
  readonly ms_per_image_batch?: number | null
  readonly backend: string
  readonly misclassified: Readonly<Record<string, ReadonlyArray<number>>>
}

/** One trained and evaluated model. */
export interface RunData {
  /** How the run is named in legends and tables: a stage id, or the params a sweep varied. */
  readonly label: string
  readonly model: string
  /** config.json of the model artifact: params, engine, parameter count. */
  readonly config: { readonly params?: Record<string, unknown>; readonly engine?: Record<string, string>; readonly parameters?: number }
  /** summary.json of the model artifact (backend; the training time only in artifacts of train before version 5). */
  readonly summary: { readonly seconds?: number; readonly backend?: string }
  /**
   * Timings from the records of the runs that trained and evaluated the model (their metrics): artifacts carry
   * none, so that the same computation gives the same bytes.
   */
  readonly timings?: { readonly msPerImage?: number | null; readonly trainSeconds?: number | null }
  /** metrics.jsonl of the model artifact: step and epoch records. */
  readonly history: ReadonlyArray<Record<string, unknown>>
  readonly evaluation: Evaluation
}

/** The augment stage's step-by-step preview (Fig. 4): its PNG and, from its previews.json, what is in it. */
export interface StepsPreview {
  readonly png: Buffer
  /** The heading of each column: original, zero-padded, random crop, flip, normalised. */
  readonly columns?: ReadonlyArray<string>
  /** Each row's image: its class and whether the flip step flipped it. */
  readonly rows?: ReadonlyArray<{ readonly class: string; readonly flipped: boolean }>
}

export interface ReportInput {
  readonly title: string
  readonly classes: ReadonlyArray<string>
  readonly test: { readonly images: Uint8Array; readonly labels: Uint8Array; readonly count: number }
  /** Each with a label of its own: legends, tables and figure names tell the runs apart by it. */
  readonly runs: ReadonlyArray<RunData>
  /** The augment stage's Fig. 1 and Fig. 4 previews, when an augment artifact is part of the report. */
  readonly previews: { readonly samples?: Buffer; readonly steps?: StepsPreview }
  /** What the report states at its top: versions, commits, data, runs (and experiment ids when known). */
  readonly provenance: Provenance
  /** A sweep's report: the points with the metric they reached (those with none are left out), for Fig. 9 and 10. */
  readonly sweep?: { readonly id: number; readonly metric: string; readonly points: ReadonlyArray<SweepPoint> }
}

export interface ReportOptions {
  readonly pcaPoints: number
  readonly tsnePoints: number
  readonly tsnePerplexity: number
  readonly tsneIterations: number
  readonly seed: number
  /** Galleries: the seed's T-shirt/Shirt pairs plus the most confused others, this many in all. */
  readonly galleryPairs: number
  readonly galleryImages: number
}

export interface Figure {
  readonly id: string
  readonly title: string
  readonly caption: string
  /** Files under figures/, relative to the report directory. */
  readonly files: ReadonlyArray<string>
  /** The markup embedded in report.html: an inline SVG, or an <img> with a data: URI. */
  readonly html: string
}

export interface Report {
  readonly provenance: Provenance
  readonly figures: ReadonlyArray<Figure>
  readonly table: ReadonlyArray<ComparisonRow>
  readonly markdown: string
}

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "")
export const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")
const pngHtml = (png: Buffer, alt: string) => `<img alt="${escape(alt)}" src="data:image/png;base64,${png.toString("base64")}">`

const SEED_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ["T-shirt/top", "Shirt"],
  ["Shirt", "T-shirt/top"]
]

/** Fig. 1 without an augment artifact: the first eight test images of each class. */
const samplesFromTest = (input: ReportInput): Buffer => {
  const perClass = input.classes.map(() => [] as Array<{ pixels: Uint8Array; width: number; height: number }>)
  for (let i = 0; i < input.test.count; i++) {
    const row = perClass[input.test.labels[i]!]
    if (row && row.length < 8) row.push({ pixels: input.test.images.subarray(i * 784, (i + 1) * 784), width: 28, height: 28 })
  }
  return gridPng(perClass, { cell: 28, scale: 2, gap: 2 })
}

export const buildReport = async (
  input: ReportInput,
  o: ReportOptions,
  outDir: string,
  log: (line: string) => void = () => {}
): Promise<Report> => {
  if (input.runs.length === 0) throw new Error("a report needs at least one evaluated model")
  const twice = input.runs.map((r) => r.label).find((l, i, all) => all.indexOf(l) !== i)
  if (twice !== undefined) throw new Error(`two reported models are both labelled '${twice}': legends would not tell them apart`)
  const dir = join(outDir, "figures")
  mkdirSync(dir, { recursive: true })
  const figures: Array<Figure> = []
  const write = (name: string, data: string | Buffer) => {
    writeFileSync(join(dir, name), data)
    return `figures/${name}`
  }
  const svgFigure = async (id: string, title: string, caption: string, name: string, spec: Record<string, unknown>) => {
    const svg = await toSvg(spec)
    figures.push({ id, title, caption, files: [write(name, svg)], html: inline(svg) })
  }
  const { classes, test } = input

  // Fig. 1: samples per class, a row per class, named.
  const samples = input.previews.samples ?? samplesFromTest(input)
  const samplesSvg = labelledGrid(samples, { title: "Sample images per class", rows: classes })
  figures.push({
    id: "fig1",
    title: "Fig. 1: Sample images per class",
    caption: input.previews.samples ? "From the augment stage's previews: a row per class." : "The first eight test images of each class, a row per class.",
    files: [write("fig1-samples-per-class.png", samples), write("fig1-samples-per-class.svg", samplesSvg)],
    html: samplesSvg
  })

  // Fig. 2 and 3: PCA and t-SNE of the test images.
  const pcaN = Math.min(o.pcaPoints, test.count)
  log(`PCA of ${pcaN} test images`)
  const pca = pca2d(rows(test.images, pcaN, 784))
  await svgFigure(
    "fig2",
    "Fig. 2: PCA of the test images",
    `The first ${pcaN} test images projected on their two principal components, which explain ${(pca.explained[0] * 100).toFixed(1)}% and ${(pca.explained[1] * 100).toFixed(1)}% of the pixel variance.`,
    "fig2-pca.svg",
    scatterSpec("PCA of the test images", pca.points, test.labels, classes, [
      `PC1 (${(pca.explained[0] * 100).toFixed(1)}%)`,
      `PC2 (${(pca.explained[1] * 100).toFixed(1)}%)`
    ])
  )
  const tsneN = Math.min(o.tsnePoints, test.count)
  log(`t-SNE of ${tsneN} test images (${o.tsneIterations} iterations, perplexity ${o.tsnePerplexity})`)
  const tsne = tsne2d(rows(test.images, tsneN, 784), { perplexity: o.tsnePerplexity, iterations: o.tsneIterations, seed: o.seed })
  await svgFigure(
    "fig3",
    "Fig. 3: t-SNE of the test images",
    `The first ${tsneN} test images embedded in two dimensions by t-SNE (perplexity ${o.tsnePerplexity}, ${o.tsneIterations} iterations, seed ${o.seed}).`,
    "fig3-tsne.svg",
    scatterSpec("t-SNE of the test images", tsne, test.labels, classes, ["t-SNE 1", "t-SNE 2"])
  )

  // Fig. 4: augmentation steps, a column per step and a row per image, with whether its flip happened.
  const steps = input.previews.steps
  if (steps) {
    const svg = steps.columns
      ? labelledGrid(steps.png, {
          title: "Augmentation steps",
          columns: steps.columns,
          ...(steps.rows ? { rows: steps.rows.map((r) => `${r.class}: ${r.flipped ? "flipped" : "not flipped"}`) } : {})
        })
      : undefined
    const flips = steps.rows?.filter((r) => r.flipped).length
    figures.push({
      id: "fig4",
      title: "Fig. 4: Augmentation steps",
      caption:
        "Original, padded, randomly cropped, flipped (when the policy's coin says so), normalised: the training policy applied step by step" +
        (steps.rows ? `; ${flips} of the ${steps.rows.length} images were flipped.` : "."),
      files: [write("fig4-augmentation-steps.png", steps.png), ...(svg ? [write("fig4-augmentation-steps.svg", svg)] : [])],
      html: svg ?? pngHtml(steps.png, "augmentation steps")
    })
  }

  // Fig. 5 and 6: curves by epoch, one line per run (steps at their fractional epoch, so batch sizes line up).
  const losses = input.runs.flatMap((r) => lossByEpoch(r.history).map((p) => ({ run: r.label, ...p })))
  const epochs = input.runs.flatMap((r) =>
    r.history.filter((h) => h["type"] === "epoch").map((h) => ({ run: r.label, epoch: h["epoch"] as number, accuracy: h["val_acc"] as number }))
  )
  await svgFigure(
    "fig5",
    "Fig. 5: Training loss",
    "Loss of the training batches, sampled about ten times an epoch, by epoch (so that models with different batch sizes line up); " +
      "the y-range leaves out far-out early values, which are clipped at the top.",
    "fig5-training-loss.svg",
    lossSpec(losses)
  )
  await svgFigure("fig6", "Fig. 6: Validation accuracy", "Accuracy on the validation split after every epoch.", "fig6-validation-accuracy.svg", valAccuracySpec(epochs))

  // Fig. 7: error breakdown and confusion matrix, per run.
  for (const r of input.runs) {
    const breakdown = errorBreakdown(r.evaluation.confusion, classes)
    const bars = breakdown.flatMap((b) =>
      b.byPredicted.flatMap((count, p) => (count > 0 ? [{ trueClass: b.name, predicted: classes[p] ?? String(p), count }] : []))
    )
    const worst = [...breakdown].sort((a, b) => b.errors - a.errors)[0]!
    await svgFigure(
      `fig7-errors-${slug(r.label)}`,
      `Fig. 7: Errors per class (${r.label})`,
      `How each class's misclassified test images (a row per true class) spread over the predicted classes; ${worst.name} has the most errors (${worst.errors} of ${worst.total}).`,
      `fig7-errors-${slug(r.label)}.svg`,
      errorsSpec(r.label, bars, classes)
    )
    await svgFigure(
      `fig7-confusion-${slug(r.label)}`,
      `Fig. 7: Confusion matrix (${r.label})`,
      `Test images by true class (rows) and predicted class (columns); test accuracy ${(r.evaluation.test_accuracy * 100).toFixed(2)}%.`,
      `fig7-confusion-${slug(r.label)}.svg`,
      confusionSpec(r.label, confusionCells(r.evaluation.confusion, classes), classes)
    )
  }

  // Fig. 8: galleries of the most confused pairs, for the best run.
  const best = [...input.runs].sort((a, b) => b.evaluation.test_accuracy - a.evaluation.test_accuracy)[0]!
  for (const pair of galleryPairs(best.evaluation.confusion, classes, SEED_PAIRS, o.galleryPairs)) {
    const t = classes[pair.trueClass]!
    const p = classes[pair.predicted]!
    const indices = best.evaluation.misclassified[`${pair.trueClass}->${pair.predicted}`] ?? []
    const g = gallery(test.images, indices, `${t} predicted as ${p}: ${indices.length} test images (${best.label})`, o.galleryImages)
    const name = `fig8-${slug(t)}-as-${slug(p)}`
    figures.push({
      id: name,
      title: `Fig. 8: ${t} predicted as ${p}`,
      caption: `The first ${g.indices.length} of the ${indices.length} test images of class ${t} that ${best.label} predicted as ${p}, with their test indices.`,
      files: [write(`${name}.svg`, g.svg), write(`${name}.png`, g.png)],
      html: g.svg
    })
  }

  // Fig. 9 and 10: a sweep's metric against each swept numeric param, and all its points in parallel coordinates.
  const sweep = input.sweep
  if (sweep && sweep.points.length > 1) {
    for (const param of numericParams(sweep.points)) {
      await svgFigure(
        `fig9-${slug(param)}`,
        `Fig. 9: ${sweep.metric} versus ${param} (sweep ${sweep.id})`,
        `Each of the ${sweep.points.length} points of sweep ${sweep.id} at its value of ${param}; the line joins the mean ${sweep.metric} at each value.`,
        `fig9-${slug(param)}.svg`,
        metricVsParamSpec(sweep.metric, param, sweep.points)
      )
    }
    if (sweptParams(sweep.points).length > 0) {
      await svgFigure(
        "fig10",
        `Fig. 10: The points of sweep ${sweep.id} in parallel coordinates`,
        `Each point of sweep ${sweep.id} as a line through its value of each swept param and its ${sweep.metric}, coloured by ${sweep.metric}.`,
        "fig10-parallel-coordinates.svg",
        parallelSpec(sweep.metric, sweep.points)
      )
    }
  }

  // The comparison table.
  const table: Array<ComparisonRow> = input.runs.map((r) => ({
    label: r.label,
    model: r.model,
    parameters: r.evaluation.parameters,
    msPerImage: r.timings?.msPerImage ?? r.evaluation.ms_per_image_batch ?? null,
    testAccuracy: r.evaluation.test_accuracy,
    trainSeconds: r.timings?.trainSeconds ?? r.summary.seconds ?? null,
    engine: [r.config.engine?.["engine"], r.summary.backend ?? r.evaluation.backend].filter(Boolean).join(" / ")
  }))
  const markdown = comparisonMarkdown(table)
  const { provenance } = input
  writeFileSync(
    join(outDir, "summary.md"),
    `# ${input.title}\n\n${provenanceMarkdown(provenance)}\n\n${markdown}\n\nBest: ${best.label} at ${(best.evaluation.test_accuracy * 100).toFixed(2)}% test accuracy.\n`
  )
  writeFileSync(join(outDir, "report.html"), html(input.title, provenance, figures, table))
  writeFileSync(
    join(outDir, "report.json"),
    `${JSON.stringify({ title: input.title, provenance, figures: figures.map(({ html: _h, ...f }) => f), table }, null, 2)}\n`
  )
  return { provenance, figures, table, markdown }
}

const tableHtml = (rows: ReadonlyArray<ComparisonRow>): string => {
  const sorted = [...rows].sort((a, b) => b.testAccuracy - a.testAccuracy)
  const cells = (r: ComparisonRow) =>
    [
      escape(r.label),
      escape(r.model),
      r.parameters.toLocaleString("en"),
      r.msPerImage === null ? "-" : r.msPerImage.toFixed(3),
      `${(r.testAccuracy * 100).toFixed(2)}%`,
      r.trainSeconds === null ? "-" : `${r.trainSeconds.toFixed(1)} s`,
      escape(r.engine)
    ]
      .map((c) => `<td>${c}</td>`)
      .join("")
  return [
    `<table id="comparison"><thead><tr><th>run</th><th>model</th><th>parameters</th><th>inference ms/image</th><th>test accuracy</th><th>training time</th><th>engine</th></tr></thead><tbody>`,
    ...sorted.map((r) => `<tr>${cells(r)}</tr>`),
    `</tbody></table>`
  ].join("\n")
}

/** A self-contained page: the report's style, its title as a heading, then `body`. */
export const pageHtml = (title: string, body: string): string => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>${escape(title)}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
figure { margin: 2em 0; padding: 1em; border: 1px solid #ddd; border-radius: 6px; }
figure h3 { margin-top: 0; }
figure img { max-width: 100%; image-rendering: pixelated; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: #555; margin-top: 0.5em; }
table { border-collapse: collapse; }
td, th { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
td:first-child, th:first-child, td:nth-child(2), td:last-child { text-align: left; }
#provenance { display: grid; grid-template-columns: max-content auto; gap: 2px 1em; color: #444; }
#provenance dt { font-weight: bold; }
#provenance dd { margin: 0; }
</style>
</head>
<body>
<h1>${escape(title)}</h1>
${body}
</body>
</html>
`

/** Each figure in a <figure> with its title and caption. */
export const figuresHtml = (figures: ReadonlyArray<Figure>): string =>
  figures
    .map(
      (f) => `<figure id="${f.id}" data-figure="${f.id}">
<h3>${escape(f.title)}</h3>
${f.html}
<figcaption>${escape(f.caption)}</figcaption>
</figure>`
    )
    .join("\n")

const html = (title: string, provenance: Provenance, figures: ReadonlyArray<Figure>, table: ReadonlyArray<ComparisonRow>): string =>
  pageHtml(title, `${provenanceHtml(provenance)}
<h2>Model comparison</h2>
${tableHtml(table)}
<h2>Figures</h2>
${figuresHtml(figures)}`)
