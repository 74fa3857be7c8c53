/**
 * What `evaluate` writes, whichever engine predicted: from the test labels and the predicted class of every
 * test image, the confusion matrix, per-class precision and recall, the misclassified indices per (true,
 * predicted) pair; then metrics.json, predictions.u8, and the headline figures (with the timings) for the run's
 * record.
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"

/** Per-class precision and recall, from a confusion matrix indexed [true][predicted]. */
export const perClass = (confusion: ReadonlyArray<ReadonlyArray<number>>) =>
  confusion.map((row, c) => {
    const tp = row[c]!
    const actual = row.reduce((a, b) => a + b, 0)
    const predicted = confusion.reduce((a, r) => a + r[c]!, 0)
    return { precision: predicted ? tp / predicted : 0, recall: actual ? tp / actual : 0, support: actual }
  })

export interface Predicted {
  /** The model artifact evaluated: how analyze pairs these metrics with their model. */
  readonly model: string
  readonly classes: ReadonlyArray<string>
  readonly labels: Uint8Array
  readonly predictions: Uint8Array
  /** Mean cross-entropy over the test set. */
  readonly loss: number
  readonly parameters: number
  readonly msPerImageBatch: number | null
  readonly msPerImageSingle: number
  readonly batchSize: number
  readonly tta: "none" | "flip"
  /** With TTA: how many plain (unflipped) predictions were right. */
  readonly plainCorrect?: number
  readonly backend: string
}

/**
 * Writes metrics.json and predictions.u8 to `outDir`; returns the headline figures. The inference times are
 * only in the figures (the run's record), never in metrics.json: they differ on every run, and the artifact
 * must be the same bytes whenever the same predictions are made.
 */
/** Headline figures, as a stage reports them. */
export type Figures = Readonly<Record<string, number | string | boolean | null>>

export const writeEvaluation = (outDir: string, p: Predicted, log: (line: string) => void): Figures => {
  const k = p.classes.length
  const n = p.labels.length
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0))
  const misclassified: Record<string, Array<number>> = {}
  let correct = 0
  for (let i = 0; i < n; i++) {
    const t = p.labels[i]!
    const q = p.predictions[i]!
    confusion[t]![q]!++
    if (t === q) correct++
    else (misclassified[`${t}->${q}`] ??= []).push(i)
  }
  const withoutTta: Record<string, number> = p.tta === "flip" && p.plainCorrect !== undefined ? { test_accuracy_without_tta: p.plainCorrect / n } : {}
  const result = {
    model: p.model,
    test_accuracy: correct / n,
    test_loss: p.loss,
    test_images: n,
    classes: p.classes,
    per_class: perClass(confusion).map((c, i) => ({ class: p.classes[i], ...c })),
    confusion,
    parameters: p.parameters,
    batch_size: p.batchSize,
    tta: p.tta,
    ...withoutTta,
    backend: p.backend,
    misclassified
  }
  writeFileSync(join(outDir, "metrics.json"), `${JSON.stringify(result, null, 2)}\n`)
  writeFileSync(join(outDir, "predictions.u8"), p.predictions)
  log(`test accuracy ${(result.test_accuracy * 100).toFixed(2)}%, loss ${result.test_loss.toFixed(4)}`)
  return {
    test_accuracy: result.test_accuracy,
    ...withoutTta,
    test_loss: result.test_loss,
    parameters: p.parameters,
    ms_per_image_batch: p.msPerImageBatch,
    ms_per_image_single: p.msPerImageSingle,
    backend: p.backend
  }
}

/** A text progress bar: [=====>      ]. */
export const bar = (fraction: number, width = 24): string => {
  const n = Math.round(fraction * width)
  return `[${"=".repeat(Math.max(0, n - 1))}${n > 0 ? ">" : ""}${" ".repeat(width - n)}]`
}
