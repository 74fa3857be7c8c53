/**
 * Running `analyze`: gather the evaluated models from the inputs, then build the report. Its provenance comes
 * from the inputs too: the runs that produced them (as the runner hands them over) and the split's manifest.
 */
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import type { AnalyzeParams } from "./analyze.js"
import { StageError, type InputArtifact, type StageContext, type StageMetrics } from "../pipelines/kind.js"
import { readImageSet } from "../ml/imageSet.js"
import { readPreviews, reportOptions, runData } from "../ml/report/inputs.js"
import { dataSubset, type ReportedRun, type RunStamp } from "../ml/report/provenance.js"
import { buildReport } from "../ml/report/report.js"

const json = <T>(path: string): T => JSON.parse(readFileSync(path, "utf8")) as T

const stampOf = (i: InputArtifact): RunStamp | undefined =>
  i.producer && { id: i.producer.run, pipeVersion: i.producer.pipeVersion, gitCommit: i.producer.gitCommit }

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
      const evaluated = pairs(ctx.inputs)
      const runs = evaluated.map(({ metrics, model }) =>
        runData(model.stage, model.dir, metrics.dir, { ...(model.metrics ? { train: model.metrics } : {}), ...(metrics.metrics ? { evaluate: metrics.metrics } : {}) })
      )
      const reported = evaluated.map(({ metrics, model }): ReportedRun => {
        const [train, evaluate] = [stampOf(model), stampOf(metrics)]
        return { label: model.stage, ...(train ? { train } : {}), ...(evaluate ? { evaluate } : {}) }
      })
      const report = await buildReport(
        {
          title: p.title,
          classes: data.manifest.classes,
          test,
          runs,
          previews: readPreviews(ctx.inputs.find((i) => i.slot === "augment")?.dir),
          // The stage knows no experiments: a caller that does (pipe report) can name them.
          provenance: { runs: reported, data: dataSubset(data.manifest.meta), experiments: [] }
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
