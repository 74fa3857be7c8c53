/** Running `analyze`: gather the evaluated models from the inputs, then build the report. */
import { Effect } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import type { AnalyzeParams } from "./analyze.js"
import { StageError, type InputArtifact, type StageContext, type StageMetrics } from "./kind.js"
import { readImageSet } from "./ml/imageSet.js"
import { buildReport, type Evaluation, type ReportOptions, type RunData } from "./ml/report/report.js"

const json = <T>(path: string): T => JSON.parse(readFileSync(path, "utf8")) as T

const jsonl = (path: string): Array<Record<string, unknown>> =>
  existsSync(path)
    ? readFileSync(path, "utf8")
        .split("\n")
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : []

const num = (x: unknown): number | null => (typeof x === "number" && Number.isFinite(x) ? x : null)

/**
 * A model artifact and its evaluation, as the report reads them; the timings come from the records of the runs
 * that produced them (`train` and `evaluate` metrics), since the artifacts carry none.
 */
export const runData = (
  label: string,
  modelDir: string,
  metricsDir: string,
  runs: { readonly train?: Readonly<Record<string, unknown>> | null; readonly evaluate?: Readonly<Record<string, unknown>> | null } = {}
): RunData => {
  const config = json<RunData["config"] & { model?: string }>(join(modelDir, "config.json"))
  return {
    timings: { msPerImage: num(runs.evaluate?.["ms_per_image_batch"]), trainSeconds: num(runs.train?.["seconds"]) },
    label,
    model: config.model ?? "?",
    config,
    summary: existsSync(join(modelDir, "summary.json")) ? json(join(modelDir, "summary.json")) : {},
    history: jsonl(join(modelDir, "metrics.jsonl")),
    evaluation: json<Evaluation>(join(metricsDir, "metrics.json"))
  }
}

/** The analyze params as the report builder takes them. */
export const reportOptions = (p: AnalyzeParams): ReportOptions => ({
  pcaPoints: p.pca_points,
  tsnePoints: p.tsne_points,
  tsnePerplexity: p.tsne_perplexity,
  tsneIterations: p.tsne_iterations,
  seed: p.seed,
  galleryPairs: p.gallery_pairs,
  galleryImages: p.gallery_images
})

/** Each metrics artifact with the model it evaluated (evaluate records the model's hash). */
const pairs = (inputs: ReadonlyArray<InputArtifact>): Array<{ metrics: InputArtifact; model: InputArtifact }> => {
  const models = inputs.filter((i) => i.slot === "model")
  return inputs
    .filter((i) => i.slot === "metrics")
    .map((m) => {
      const evaluated = json<{ model?: string }>(join(m.dir, "metrics.json")).model
      const model = models.find((x) => x.hash === evaluated)
      if (!model) {
        throw new StageError({
          message: `${m.stage} evaluated a model that is not among this stage's inputs (${evaluated?.slice(0, 12) ?? "unknown"}); add the train stage that made it to needs`
        })
      }
      return { metrics: m, model }
    })
}

export const run = (ctx: StageContext<unknown, AnalyzeParams>) =>
  Effect.tryPromise({
    try: async (): Promise<StageMetrics> => {
      const p = ctx.params
      const splitIn = ctx.inputs.find((i) => i.slot === "split")!
      const data = readImageSet(splitIn.dir)
      const test = data.splits["test"]
      if (!test) throw new StageError({ message: `${splitIn.stage}: the split has no test set` })
      // The timings in the table come from the producing runs' records: shown, not computed with, so not in the key.
      const runs = pairs(ctx.inputs).map(({ metrics, model }) =>
        runData(model.stage, model.dir, metrics.dir, { ...(model.metrics ? { train: model.metrics } : {}), ...(metrics.metrics ? { evaluate: metrics.metrics } : {}) })
      )
      const augment = ctx.inputs.find((i) => i.slot === "augment")
      const preview = (name: string) => (augment && existsSync(join(augment.dir, name)) ? readFileSync(join(augment.dir, name)) : undefined)
      const samples = preview("samples-per-class.png")
      const steps = preview("augmentation-steps.png")
      const report = await buildReport(
        {
          title: p.title,
          classes: data.manifest.classes,
          test,
          runs,
          previews: { ...(samples ? { samples } : {}), ...(steps ? { steps } : {}) }
        },
        reportOptions(p),
        ctx.outDir,
        ctx.log
      )
      const best = [...report.table].sort((a, b) => b.testAccuracy - a.testAccuracy)[0]!
      ctx.log(`report: ${report.figures.length} figures, ${report.table.length} models; best ${best.label} at ${(best.testAccuracy * 100).toFixed(2)}%`)
      return { figures: report.figures.length, models: report.table.length, best: best.label, best_test_accuracy: best.testAccuracy }
    },
    catch: (e) => (e instanceof StageError ? e : new StageError({ message: `analysis failed: ${(e as Error).stack ?? String(e)}` }))
  })
