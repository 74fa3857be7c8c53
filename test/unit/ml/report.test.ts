/**
 * The report on hand-made data: error breakdown, confused pairs, PCA axes, t-SNE determinism, charts (curve
 * ranges, cell colours, sweep charts), provenance, how pipe report labels models, and a whole report built.
 */
import { PNG } from "pngjs"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { distinctLabels, sweepLabel, sweptLabel, varyingParams } from "../../../cli/reportLabels.js"
import { CLASS_NAMES } from "../../../ml/fashionMnist.js"
import { gridPng } from "../../../ml/png.js"
import { comparisonMarkdown, confusedPairs, errorBreakdown, galleryPairs } from "../../../ml/report/analysis.js"
import {
  confusionCells,
  confusionSpec,
  inkOn,
  lossSpec,
  luminance,
  metricVsParamSpec,
  numericParams,
  parallelLayout,
  toSvg,
  valAccuracySpec
} from "../../../ml/report/charts.js"
import { curveDomain, lossByEpoch } from "../../../ml/report/curves.js"
import { pca2d, tsne2d } from "../../../ml/report/embed.js"
import { gallery } from "../../../ml/report/gallery.js"
import { labelledGrid, pngSize } from "../../../ml/report/labelledGrid.js"
import { dataSubset, provenanceLines, type Provenance } from "../../../ml/report/provenance.js"
import { buildReport, type RunData } from "../../../ml/report/report.js"
import { rng } from "../../../ml/rng.js"

// 3 classes; rows are true classes, columns predicted.
const confusion = [
  [50, 7, 3],
  [1, 60, 0],
  [9, 2, 40]
]

describe("error analysis", () => {
  it("breaks each class's errors down by predicted class, each row named by its class", () => {
    expect(errorBreakdown(confusion, ["T-shirt/top", "Trouser", "Pullover"])).toEqual([
      { trueClass: 0, name: "T-shirt/top", total: 60, errors: 10, byPredicted: [0, 7, 3] },
      { trueClass: 1, name: "Trouser", total: 61, errors: 1, byPredicted: [1, 0, 0] },
      { trueClass: 2, name: "Pullover", total: 51, errors: 11, byPredicted: [9, 2, 0] }
    ])
    // classes without names keep their numbers
    expect(errorBreakdown(confusion, []).map((r) => r.name)).toEqual(["0", "1", "2"])
  })

  it("ranks the confused pairs, and puts the named pairs first in the galleries", () => {
    expect(confusedPairs(confusion, 3)).toEqual([
      { trueClass: 2, predicted: 0, count: 9 },
      { trueClass: 0, predicted: 1, count: 7 },
      { trueClass: 0, predicted: 2, count: 3 }
    ])
    const classes = ["T-shirt/top", "Trouser", "Shirt"]
    expect(galleryPairs(confusion, classes, [["t-shirt/top", "shirt"], ["Shirt", "T-shirt/top"]], 3)).toEqual([
      { trueClass: 0, predicted: 2, count: 3 },
      { trueClass: 2, predicted: 0, count: 9 },
      { trueClass: 0, predicted: 1, count: 7 }
    ])
  })

  it("writes the comparison table best first", () => {
    const row = (label: string, acc: number) => ({ label, model: "m", parameters: 1000, msPerImage: 0.05, testAccuracy: acc, trainSeconds: 90, engine: "tfjs / wasm" })
    const md = comparisonMarkdown([row("a", 0.8), row("b", 0.9)]).split("\n")
    expect(md[2]).toBe("| b | m | 1,000 | 0.050 | 90.00% | 90.0 s | tfjs / wasm |")
    expect(md[3]).toMatch(/^\| a \|/)
  })
})

describe("embeddings", () => {
  it("PCA finds a known principal axis and the share of variance it explains", () => {
    const r = rng(3)
    // Points along (1, 1, 0, 0)/sqrt(2) with spread 10, small noise elsewhere, and a column that never varies.
    const data = Array.from({ length: 400 }, () => {
      const t = (r.next() - 0.5) * 20
      return [t + (r.next() - 0.5) * 0.1, t + (r.next() - 0.5) * 0.1, (r.next() - 0.5) * 0.5, (r.next() - 0.5) * 0.1, 0]
    })
    const { points, explained } = pca2d(data)
    expect(points.length).toBe(400)
    // PC1 is t * sqrt(2), up to the sign convention (largest loading positive: here both are equal).
    const along = data.map((d) => (d[0]! + d[1]!) / Math.SQRT2)
    const mean = along.reduce((s, v) => s + v, 0) / along.length
    along.forEach((v, i) => {
      if (Math.abs(v - mean) > 1) expect(points[i]![0] / (v - mean)).toBeCloseTo(1, 2)
    })
    expect(explained[0]).toBeGreaterThan(0.99)
    expect(explained[0] + explained[1]).toBeLessThanOrEqual(1.0000001)
  })

  it("t-SNE gives one 2-D point per row, the same for the same seed", () => {
    const r = rng(5)
    const data = Array.from({ length: 60 }, (_, i) => Array.from({ length: 8 }, () => (i < 30 ? 0 : 5) + r.next()))
    const a = tsne2d(data, { perplexity: 10, iterations: 200, seed: 7 })
    expect(a.length).toBe(60)
    for (const p of a) expect(p.every(Number.isFinite)).toBe(true)
    expect(tsne2d(data, { perplexity: 10, iterations: 200, seed: 7 })).toEqual(a)
    expect(tsne2d(data, { perplexity: 10, iterations: 200, seed: 8 })).not.toEqual(a)
    // the two groups separate: every point is nearer its group's centre than the other's
    const centre = (from: number) => [0, 1].map((k) => a.slice(from, from + 30).reduce((s, p) => s + p[k]!, 0) / 30)
    const [c0, c1] = [centre(0), centre(30)]
    const d = (p: ReadonlyArray<number>, c: ReadonlyArray<number>) => Math.hypot(p[0]! - c[0]!, p[1]! - c[1]!)
    a.forEach((p, i) => expect(d(p, i < 30 ? c0 : c1)).toBeLessThan(d(p, i < 30 ? c1 : c0)))
  })
})

describe("figures", () => {
  it("renders a chart to SVG with its title", async () => {
    const svg = await toSvg(lossSpec([{ run: "a", epoch: 0.5, loss: 2 }, { run: "a", epoch: 1, loss: 1 }]))
    expect(svg).toMatch(/^<svg /)
    expect(svg).toContain("Training loss by epoch")
  })

  it("makes a gallery of the given test images: a real PNG and an SVG that names them", () => {
    const images = new Uint8Array(20 * 784).map((_, i) => i % 251)
    const g = gallery(images, [3, 5, 7, 11, 13, 17, 19, 2, 4, 6], "Shirt predicted as T-shirt/top", 9)
    expect(g.indices).toEqual([3, 5, 7, 11, 13, 17, 19, 2, 4])
    const png = PNG.sync.read(g.png)
    expect(png.width).toBe(4 + 8 * (28 * 3 + 4))
    expect(png.height).toBe(4 + 2 * (28 * 3 + 4))
    expect(g.svg).toContain("Shirt predicted as T-shirt/top")
    for (const i of g.indices) expect(g.svg).toContain(`>#${i}<`)
  })
})

describe("curves", () => {
  // Two models over two epochs: 10 steps an epoch (batch 64) and 40 (batch 16), loss records every few steps.
  const history = (stepsPerEpoch: number, every: number) =>
    [1, 2].flatMap((epoch) => [
      ...Array.from({ length: stepsPerEpoch / every }, (_, k) => ({ type: "step", epoch, step: (epoch - 1) * stepsPerEpoch + (k + 1) * every, loss: 1 / epoch })),
      { type: "epoch", epoch, step: epoch * stepsPerEpoch, val_acc: 0.8 }
    ])

  it("puts loss records at their fractional epoch, so different batch sizes line up", () => {
    const big = lossByEpoch(history(10, 5))
    const small = lossByEpoch(history(40, 10))
    expect(big.map((p) => p.epoch)).toEqual([0.5, 1, 1.5, 2])
    expect(small.map((p) => p.epoch)).toEqual([0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2])
    // without epoch records, an epoch ends at its last step record
    expect(lossByEpoch(history(40, 10).filter((h) => h.type === "step")).map((p) => p.epoch)).toEqual(small.map((p) => p.epoch))
  })

  it("plots loss against epochs, not steps", () => {
    const spec = lossSpec(lossByEpoch(history(10, 5)).map((p) => ({ run: "a", ...p }))) as { encoding: { x: { field: string; title: string } } }
    expect(spec.encoding.x).toMatchObject({ field: "epoch", title: "epoch" })
  })

  it("keeps one early loss spike from flattening the curves, and accuracies within [0, 1]", () => {
    const losses = [9, ...Array.from({ length: 30 }, (_, i) => 0.6 - i * 0.01)]
    const [lo, hi] = curveDomain(losses, "loss")!
    expect(hi).toBeLessThan(1.5)
    expect(hi).toBeGreaterThan(0.6)
    expect(lo).toBeGreaterThanOrEqual(0)
    expect(lo).toBeLessThanOrEqual(0.31)
    // a smooth curve keeps its whole range
    expect(curveDomain([2.3, 1.2, 0.8, 0.6, 0.5], "loss")![1]).toBeGreaterThanOrEqual(2.3)
    // a first epoch near chance does not squash the others; the top never passes 100%
    const acc = [0.1, ...Array.from({ length: 20 }, (_, i) => 0.85 + i * 0.007)]
    const [alo, ahi] = curveDomain(acc, "accuracy")!
    expect(alo).toBeGreaterThan(0.5)
    expect(ahi).toBeLessThanOrEqual(1)
    expect(curveDomain([0.97, 0.995, 1], "accuracy")![1]).toBe(1)
    const spec = valAccuracySpec(acc.map((accuracy, i) => ({ run: "a", epoch: i + 1, accuracy }))) as { encoding: { y: { scale: { domain: Array<number> } } } }
    expect(spec.encoding.y.scale.domain).toEqual([alo, ahi])
  })
})

describe("confusion matrix colours", () => {
  it("writes the numbers in white on dark cells and in black on light ones, by luminance", async () => {
    expect(luminance("#ffffff")).toBeCloseTo(1)
    expect(luminance("#000000")).toBe(0)
    expect(inkOn("#08306b")).toBe("white")
    expect(inkOn("#f7fbff")).toBe("black")
    const matrix = [
      [900, 3, 0],
      [12, 850, 40],
      [0, 1, 30]
    ]
    const cells = confusionCells(matrix, ["a", "b", "c"])
    const at = (t: string, p: string) => cells.find((c) => c.trueClass === t && c.predicted === p)!
    expect(at("a", "a").ink).toBe("white")
    expect(at("a", "c").ink).toBe("black")
    expect(at("a", "c").fill).toBe("#f7fbff")
    for (const c of cells) expect(c.ink).toBe(luminance(c.fill) < 0.179 ? "white" : "black")
    // the drawn chart uses them: the diagonal's 900 in white
    const svg = await toSvg(confusionSpec("m", cells, ["a", "b", "c"]))
    expect(svg).toMatch(/<text[^>]*fill="white"[^>]*>900<\/text>/)
    expect(svg).toMatch(/<text[^>]*fill="black"[^>]*>3<\/text>/)
  })
})

describe("sweep charts", () => {
  const points = [0.0001, 0.001, 0.01].flatMap((lr, i) =>
    [32, 64].map((batch, j) => ({ point: i * 2 + j + 1, params: { "train.lr": lr, "train.batch_size": batch, "train.model": "mlp" }, metric: 0.8 + i * 0.02 + j * 0.01 }))
  )

  it("puts the metric against each swept numeric param, on a log axis when its values span two decades", () => {
    expect(numericParams(points)).toEqual(["train.lr", "train.batch_size"])
    const lr = metricVsParamSpec("evaluate.test_accuracy", "train.lr", points) as { layer: Array<{ encoding: { x: { scale: unknown } } }> }
    expect(lr.layer[1]!.encoding.x.scale).toEqual({ type: "log" })
    const batch = metricVsParamSpec("evaluate.test_accuracy", "train.batch_size", points) as { layer: Array<{ encoding: { x: { scale: unknown } } }> }
    expect(batch.layer[1]!.encoding.x.scale).toEqual({ zero: false })
  })

  it("lays the points out in parallel coordinates: an axis per swept param and the metric, each scaled to [0, 1]", () => {
    const { axes, lines, ticks } = parallelLayout("evaluate.test_accuracy", points)
    expect(axes).toEqual(["train.lr", "train.batch_size", "evaluate.test_accuracy"])
    const y = (point: number, axis: string) => lines.find((l) => l.point === point && l.axis === axis)!.y
    // lr spans two decades: evenly spaced on a log scale
    expect([1, 3, 5].map((p) => y(p, "train.lr"))).toEqual([0, 0.5, 1])
    expect(y(1, "train.batch_size")).toBe(0)
    expect(y(2, "train.batch_size")).toBe(1)
    expect(y(1, "evaluate.test_accuracy")).toBe(0)
    expect(y(6, "evaluate.test_accuracy")).toBeCloseTo(1)
    expect(ticks.filter((t) => t.axis === "train.lr").map((t) => t.text)).toEqual(["0.0001", "0.001", "0.01"])
  })
})

describe("labelled grids (Fig. 1 and 4)", () => {
  it("names each row and column of an image grid in text", () => {
    const tile = { pixels: new Uint8Array(28 * 28).fill(128), width: 28, height: 28 }
    const png = gridPng(CLASS_NAMES.map(() => [tile, tile]), { cell: 28, scale: 2, gap: 2 })
    expect(pngSize(png)).toEqual({ width: 2 + 2 * 58, height: 2 + 10 * 58 })
    const svg = labelledGrid(png, { title: "Samples", rows: CLASS_NAMES, columns: ["first", "second"] })
    const rows = [...svg.matchAll(/<text x="[\d.]+" y="([\d.]+)" text-anchor="end"[^>]*>([^<]*)</g)]
    expect(rows.map((m) => m[2])).toEqual(CLASS_NAMES.map((c) => c.replace("/", "/")))
    // top to bottom, one per band of the image
    const ys = rows.map((m) => Number(m[1]))
    expect(ys).toEqual([...ys].sort((a, b) => a - b))
    expect(ys[1]! - ys[0]!).toBeCloseTo(58, 0)
    expect(svg).toContain(">first<")
    expect(svg).toContain(">second<")
  })
})

describe("provenance", () => {
  it("says which data subset the models saw, from the dataset's or the split's manifest", () => {
    expect(dataSubset(undefined)).toBe("full data")
    expect(dataSubset({ source: [] })).toBe("full data")
    expect(dataSubset({ limit: 500 })).toContain("download limit=500")
    expect(dataSubset({ ratio: 0.8, datasetMeta: { limit: 2000 } })).toBe("subset: the first 2,000 images of each split (download limit=2000)")
  })

  it("names versions and commits once when the runs agree, and per run when they do not", () => {
    const p: Provenance = {
      runs: [
        { label: "train-mlp", train: { id: 3, pipeVersion: "0.1.0", gitCommit: "a".repeat(40) }, evaluate: { id: 5, pipeVersion: "0.1.0", gitCommit: "a".repeat(40) } },
        { label: "train-cnn", train: { id: 4, pipeVersion: "0.1.0", gitCommit: null }, evaluate: { id: 6, pipeVersion: "0.1.0", gitCommit: "a".repeat(40) }, sweep: { id: 2, points: [1] } }
      ],
      data: "full data",
      experiments: []
    }
    const lines = Object.fromEntries(provenanceLines(p))
    expect(lines["pipe version"]).toBe("0.1.0")
    expect(lines["git commit"]).toBe(`${"a".repeat(40)} (runs #3, #5, #6); none (not run in a git repository) (run #4)`)
    expect(lines["evaluations"]).toBe("train-mlp (evaluate #5, train #3); train-cnn (evaluate #6, train #4; sweep 2 point 1)")
    expect(lines["experiments"]).toBeUndefined()
    expect(Object.fromEntries(provenanceLines({ ...p, experiments: ["exp-7"], sweep: { id: 2, points: [1, 2] } }))).toMatchObject({ experiments: "exp-7", sweep: "2, points 1, 2" })
  })
})

describe("how pipe report labels models", () => {
  // A 2 x 2 sweep over the learning rates of two models: each model's evaluation is shared by two points.
  const all = [
    { point: 1, params: { "train-mlp.lr": 0.002, "train-cnn.lr": 0.01, "split.seed": 0 } },
    { point: 2, params: { "train-mlp.lr": 0.002, "train-cnn.lr": 0.02, "split.seed": 0 } },
    { point: 3, params: { "train-mlp.lr": 0.004, "train-cnn.lr": 0.01, "split.seed": 0 } },
    { point: 4, params: { "train-mlp.lr": 0.004, "train-cnn.lr": 0.02, "split.seed": 0 } }
  ]
  const mlp = new Set(["evaluate-mlp", "train-mlp", "split", "download"])
  const cnn = new Set(["evaluate-cnn", "train-cnn", "split", "download"])

  it("names each point's model in a sweep's report by the swept params that reach it and differ", () => {
    expect(varyingParams(all)).toEqual(["train-mlp.lr", "train-cnn.lr"])
    const labels = [
      sweepLabel("train-mlp", [all[0]!, all[1]!], all, mlp),
      sweepLabel("train-mlp", [all[2]!, all[3]!], all, mlp),
      ...all.map((p) => sweepLabel("train-cnn", [p], all, cnn))
    ]
    expect(labels.slice(0, 3)).toEqual(["train-mlp.lr=0.002", "train-mlp.lr=0.004", "train-cnn.lr=0.01"])
    // the same cnn run would be used by points 1 and 3: pipe report names each evaluation once, so labels differ per run
    expect(new Set([labels[0], labels[1], sweepLabel("train-cnn", [all[0]!, all[2]!], all, cnn), sweepLabel("train-cnn", [all[1]!, all[3]!], all, cnn)]).size).toBe(4)
    // a param of another stage is written after the model's name
    const seeds = [0, 1].map((seed, i) => ({ point: i + 1, params: { "split.seed": seed } }))
    expect(sweepLabel("train-mlp", [seeds[1]!], seeds, mlp)).toBe("train-mlp split.seed=1")
    // a model no swept param reaches says it was shared
    expect(sweepLabel("train-cnn", seeds.slice(0, 1).concat(seeds.slice(1)), [{ point: 1, params: { "train-mlp.lr": 1 } }, { point: 2, params: { "train-mlp.lr": 2 } }], cnn)).toBe(
      "train-cnn (shared by 2 points)"
    )
  })

  it("names a latest evaluation a sweep point made by its sweep, point and params", () => {
    expect(sweptLabel("train-mlp", 3, [all[3]!], all, mlp)).toBe("train-mlp (sweep 3 point 4: train-mlp.lr=0.004)")
    expect(sweptLabel("train-mlp", 3, [all[2]!, all[3]!], all, mlp)).toBe("train-mlp (sweep 3 points 3, 4: train-mlp.lr=0.004)")
    // no swept param reaches the cnn of a sweep over the mlp's learning rate: it keeps its plain name
    const mlpOnly = all.map((p) => ({ point: p.point, params: { "train-mlp.lr": p.params["train-mlp.lr"] } }))
    expect(sweptLabel("train-cnn", 3, mlpOnly, mlpOnly, cnn)).toBeUndefined()
  })

  it("makes labels that still collide distinct by run number", () => {
    expect(distinctLabels([{ label: "a", run: 1 }, { label: "b", run: 2 }, { label: "a", run: 3 }])).toEqual(["a #1", "b", "a #3"])
  })
})

describe("a whole report", () => {
  const classes = ["T-shirt/top", "Trouser", "Shirt"]
  const count = 30
  const r = rng(11)
  const test = {
    count,
    labels: Uint8Array.from({ length: count }, (_, i) => i % 3),
    images: Uint8Array.from({ length: count * 784 }, (_, i) => Math.floor(r.next() * 64) + 64 * (Math.floor(i / 784) % 3))
  }
  const model = (label: string, stepsPerEpoch: number, acc: number): RunData => ({
    label,
    model: "mlp",
    config: { engine: { engine: "tfjs" } },
    summary: { backend: "cpu" },
    history: [1, 2].flatMap((epoch) => [
      ...[0.5, 1].map((f) => ({ type: "step", epoch, step: (epoch - 1 + f) * stepsPerEpoch, loss: 2 / (epoch + f) })),
      { type: "epoch", epoch, step: epoch * stepsPerEpoch, val_acc: acc - 0.1 / epoch }
    ]),
    evaluation: {
      test_accuracy: acc,
      test_loss: 0.5,
      confusion: [
        [8, 0, 2],
        [0, 10, 0],
        [3, 0, 7]
      ],
      parameters: 1000,
      backend: "cpu",
      misclassified: { "0->2": [0, 3], "2->0": [2] }
    }
  })
  const steps = gridPng(
    [0, 1].map(() => Array.from({ length: 5 }, () => ({ pixels: new Uint8Array(28 * 28).fill(200), width: 28, height: 28 }))),
    { cell: 36, scale: 3, gap: 6 }
  )
  const options = { pcaPoints: 30, tsnePoints: 30, tsnePerplexity: 5, tsneIterations: 50, seed: 1, galleryPairs: 2, galleryImages: 4 }
  const provenance: Provenance = {
    runs: [
      { label: "train-mlp.lr=0.002", train: { id: 7, pipeVersion: "0.1.0", gitCommit: null }, evaluate: { id: 9, pipeVersion: "0.1.0", gitCommit: null }, sweep: { id: 2, points: [1] } },
      { label: "train-mlp.lr=0.004", train: { id: 8, pipeVersion: "0.1.0", gitCommit: null }, evaluate: { id: 10, pipeVersion: "0.1.0", gitCommit: null }, sweep: { id: 2, points: [2] } }
    ],
    data: dataSubset({ datasetMeta: { limit: 500 } }),
    sweep: { id: 2, points: [1, 2] },
    experiments: []
  }

  it("states its provenance first, names classes, steps and flips, and charts a sweep", async () => {
    const out = mkdtempSync(join(tmpdir(), "pipe-report-unit-"))
    try {
      const report = await buildReport(
        {
          title: "Sweep 2",
          classes,
          test,
          runs: [model("train-mlp.lr=0.002", 10, 0.8), model("train-mlp.lr=0.004", 40, 0.85)],
          previews: {
            steps: { png: steps, columns: ["original", "zero-padded by 4", "random crop", "flip", "normalised"], rows: [{ class: "Trouser", flipped: true }, { class: "Shirt", flipped: false }] }
          },
          provenance,
          sweep: {
            id: 2,
            metric: "evaluate-mlp.test_accuracy",
            points: [
              { point: 1, params: { "train-mlp.lr": 0.002 }, metric: 0.8 },
              { point: 2, params: { "train-mlp.lr": 0.004 }, metric: 0.85 }
            ]
          }
        },
        options,
        out
      )
      const md = readFileSync(join(out, "summary.md"), "utf8").split("\n")
      expect(md[0]).toBe("# Sweep 2")
      expect(md.slice(2, 7)).toEqual([
        "- pipe version: 0.1.0",
        "- git commit: none (not run in a git repository)",
        "- data: subset: the first 500 images of each split (download limit=500)",
        "- evaluations: train-mlp.lr=0.002 (evaluate #9, train #7; point 1); train-mlp.lr=0.004 (evaluate #10, train #8; point 2)",
        "- sweep: 2, points 1, 2"
      ])
      const html = readFileSync(join(out, "report.html"), "utf8")
      expect(html.indexOf(`<dl id="provenance">`)).toBeGreaterThan(0)
      expect(html.indexOf(`<dl id="provenance">`)).toBeLessThan(html.indexOf(`<table id="comparison">`))
      expect(html).toContain(`<dd data-field="data">subset: the first 500 images of each split (download limit=500)</dd>`)
      expect(JSON.parse(readFileSync(join(out, "report.json"), "utf8")).provenance).toEqual(provenance)

      const fig = (id: string) => report.figures.find((f) => f.id === id)!
      for (const c of classes) expect(fig("fig1").html).toContain(`>${c}</text>`)
      for (const c of ["original", "zero-padded by 4", "random crop", "flip", "normalised"]) expect(fig("fig4").html).toContain(`>${c}</text>`)
      expect(fig("fig4").html).toContain(">Trouser: flipped</text>")
      expect(fig("fig4").html).toContain(">Shirt: not flipped</text>")
      expect(fig("fig4").caption).toContain("1 of the 2 images were flipped")
      expect(fig("fig4").files).toContain("figures/fig4-augmentation-steps.svg")
      // the errors chart has a named row per true class
      for (const c of classes) expect(fig("fig7-errors-train-mlp-lr-0-002").html).toContain(c)
      expect(fig("fig5").html).toContain("epoch")
      expect(fig("fig5").html).not.toContain(">step<")
      // the sweep's charts: the metric against lr, and the parallel coordinates
      expect(fig("fig9-train-mlp-lr").html).toContain("train-mlp.lr")
      expect(fig("fig10").html).toContain("evaluate-mlp.test_accuracy")
      expect(readFileSync(join(out, "figures", "fig10-parallel-coordinates.svg"), "utf8")).toMatch(/^<svg /)
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  })

  it("refuses two models with one label: their legends could not be told apart", async () => {
    const out = mkdtempSync(join(tmpdir(), "pipe-report-unit-"))
    try {
      await expect(
        buildReport({ title: "t", classes, test, runs: [model("m", 10, 0.8), model("m", 10, 0.8)], previews: {}, provenance }, options, out)
      ).rejects.toThrow("two reported models are both labelled 'm'")
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  })
})
