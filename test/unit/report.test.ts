/** The report's analysis on hand-made data: error breakdown, confused pairs, PCA axes, t-SNE determinism, charts. */
import { PNG } from "pngjs"
import { describe, expect, it } from "vitest"
import { comparisonMarkdown, confusedPairs, errorBreakdown, galleryPairs } from "../../stages/ml/report/analysis.js"
import { lossSpec, toSvg } from "../../stages/ml/report/charts.js"
import { pca2d, tsne2d } from "../../stages/ml/report/embed.js"
import { gallery } from "../../stages/ml/report/gallery.js"
import { rng } from "../../stages/ml/rng.js"

// 3 classes; rows are true classes, columns predicted.
const confusion = [
  [50, 7, 3],
  [1, 60, 0],
  [9, 2, 40]
]

describe("error analysis", () => {
  it("breaks each class's errors down by predicted class", () => {
    expect(errorBreakdown(confusion)).toEqual([
      { trueClass: 0, total: 60, errors: 10, byPredicted: [0, 7, 3] },
      { trueClass: 1, total: 61, errors: 1, byPredicted: [1, 0, 0] },
      { trueClass: 2, total: 51, errors: 11, byPredicted: [9, 2, 0] }
    ])
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
    const svg = await toSvg(lossSpec([{ run: "a", step: 1, loss: 2 }, { run: "a", step: 2, loss: 1 }]))
    expect(svg).toMatch(/^<svg /)
    expect(svg).toContain("Training loss per step")
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
