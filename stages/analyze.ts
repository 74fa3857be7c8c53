/**
 * The `analyze` kind: the seed's analysis and the experiment report from evaluated models. Takes one or more
 * `metrics` (evaluate) and `model` (train) artifacts, the `split` (test images for PCA, t-SNE and galleries)
 * and optionally augmentation policies (their Fig. 1 and Fig. 4 previews). Output (`report`): report.html
 * (self-contained), summary.md (provenance and the comparison table), report.json, and every figure under figures/.
 */
import { Schema } from "effect"
import { defineKind } from "../pipelines/kind.js"
import { PositiveInt, Seed, withDefault } from "../ml/schemas.js"

const AnalyzeParams = Schema.Struct({
  title: withDefault(Schema.String, "Fashion-MNIST experiment report"),
  /** Test images projected by PCA (Fig. 2). */
  pca_points: withDefault(PositiveInt, 5000),
  /** Test images embedded by t-SNE (Fig. 3); its cost grows with the square of this. */
  tsne_points: withDefault(PositiveInt, 2000),
  tsne_perplexity: withDefault(Schema.Number.pipe(Schema.positive({ description: "a positive number" })), 30),
  tsne_iterations: withDefault(PositiveInt, 500),
  /** Galleries of confused pairs (Fig. 8): T-shirt/top <-> Shirt, then the most confused others. */
  gallery_pairs: withDefault(PositiveInt, 4),
  gallery_images: withDefault(PositiveInt, 24),
  seed: withDefault(Seed, 0)
})

export type AnalyzeParams = Schema.Schema.Type<typeof AnalyzeParams>

export const analyzeKind = defineKind({
  kind: "analyze",
  // 2: provenance at the top, named rows and columns in Fig. 1 and 4, curves by epoch, cell colours by luminance.
  version: 2,
  description: "The seed's analysis as a report: curves, error breakdown, confused-image galleries, PCA, t-SNE, comparison table",
  fields: {},
  params: AnalyzeParams,
  inputs: {
    metrics: { type: "metrics", many: true },
    model: { type: "model", many: true },
    split: { type: "split" },
    augment: { type: "augmentation-policy", many: true, optional: true }
  },
  output: "report",
  figures: ["best_test_accuracy", "figures", "models"],
  load: () => import("./analyze.run.js"),
  inProcess: true
})
