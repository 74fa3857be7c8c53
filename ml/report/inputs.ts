/**
 * What a report is built from, read from artifacts: a model artifact with its evaluation (runData), an
 * augmentation policy's previews (readPreviews), and the analysis params as the report builder takes them
 * (reportOptions). The analyze stage reads its inputs through these, and `pipe report` the same artifacts
 * from the store, so both give the same report.
 */
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { readModelConfig, readModelSummary, readTrainingRecords } from "../modelArtifact.js"
import type { Evaluation, ReportInput, ReportOptions, RunData, StepsPreview } from "./report.js"

const json = <T>(path: string): T => JSON.parse(readFileSync(path, "utf8")) as T

/** The analyze stage's params that shape the report (its figures' sizes and seeds). */
export interface AnalysisParams {
  readonly pca_points: number
  readonly tsne_points: number
  readonly tsne_perplexity: number
  readonly tsne_iterations: number
  readonly seed: number
  readonly gallery_pairs: number
  readonly gallery_images: number
}

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
  const config = readModelConfig(modelDir)
  return {
    timings: { msPerImage: num(runs.evaluate?.["ms_per_image_batch"]), trainSeconds: num(runs.train?.["seconds"]) },
    label,
    model: config.model,
    config,
    summary: readModelSummary(modelDir) ?? {},
    history: readTrainingRecords(modelDir),
    evaluation: json<Evaluation>(join(metricsDir, "metrics.json"))
  }
}

/** The analyze params as the report builder takes them. */
export const reportOptions = (p: AnalysisParams): ReportOptions => ({
  pcaPoints: p.pca_points,
  tsnePoints: p.tsne_points,
  tsnePerplexity: p.tsne_perplexity,
  tsneIterations: p.tsne_iterations,
  seed: p.seed,
  galleryPairs: p.gallery_pairs,
  galleryImages: p.gallery_images
})

/**
 * The previews of an augmentation-policy artifact: Fig. 1's samples, and Fig. 4's steps with what its
 * previews.json says of them (the column headings, each row's class and whether it was flipped).
 */
export const readPreviews = (dir: string | undefined): ReportInput["previews"] => {
  const file = (name: string) => (dir && existsSync(join(dir, name)) ? readFileSync(join(dir, name)) : undefined)
  const samples = file("samples-per-class.png")
  const png = file("augmentation-steps.png")
  const about = file("previews.json")
  const layout = about
    ? (JSON.parse(about.toString("utf8")) as Record<string, { columns?: Array<string>; rows?: Array<{ class?: unknown; flipped?: unknown }> }>)["augmentation-steps.png"]
    : undefined
  const rows = layout?.rows?.map((r) => ({ class: String(r.class ?? "?"), flipped: r.flipped === true }))
  const steps: StepsPreview | undefined = png && { png, ...(layout?.columns ? { columns: layout.columns } : {}), ...(rows ? { rows } : {}) }
  return { ...(samples ? { samples } : {}), ...(steps ? { steps } : {}) }
}
