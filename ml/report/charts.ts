/**
 * The report's charts as Vega-Lite specs, rendered to SVG in Node by Vega (no browser, no canvas). Vega is
 * imported when the first chart is drawn, so nothing else pays for it. The specs are built from data by pure
 * functions (curve ranges, cell colours, the sweep's axes), so what a chart shows can be tested without drawing it.
 */
import { curveDomain } from "./curves.js"

export type Spec = Record<string, unknown>

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
const WIDTH = 420
const HEIGHT = 300

/** Renders a Vega-Lite spec to a standalone SVG document. */
export const toSvg = async (spec: Spec): Promise<string> => {
  const [vega, vl] = await Promise.all([import("vega"), import("vega-lite")])
  const compiled = vl.compile({ $schema: SCHEMA, ...spec } as never).spec
  const view = new vega.View(vega.parse(compiled), { renderer: "none" })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

/** An SVG for inline use: the XML prologue is not allowed inside HTML. */
export const inline = (svg: string) => svg.replace(/^<\?xml[^>]*>\s*/, "")

const classScale = (classes: ReadonlyArray<string>) => ({ domain: [...classes], scheme: "tableau10" })

/** Fig. 2 and 3: points coloured by class. */
export const scatterSpec = (
  title: string,
  points: ReadonlyArray<readonly [number, number]>,
  labels: ArrayLike<number>,
  classes: ReadonlyArray<string>,
  axes: readonly [string, string]
): Spec => ({
  title,
  width: WIDTH,
  height: HEIGHT + 60,
  data: { values: points.map(([x, y], i) => ({ x, y, class: classes[labels[i]!] })) },
  mark: { type: "circle", size: 12, opacity: 0.7 },
  encoding: {
    x: { field: "x", type: "quantitative", title: axes[0], axis: { grid: false } },
    y: { field: "y", type: "quantitative", title: axes[1], axis: { grid: false } },
    color: { field: "class", type: "nominal", title: "class", scale: classScale(classes) }
  }
})


/** A y scale from curveDomain: the data's range without far-out values, which are clipped at the plot's edge. */
const yScale = (domain: readonly [number, number] | undefined) => (domain ? { domain: [...domain], zero: false, nice: false } : { zero: false })

/** Fig. 5: training loss by epoch (steps at their fractional epoch), one line per run. */
export const lossSpec = (rows: ReadonlyArray<{ run: string; epoch: number; loss: number }>): Spec => ({
  title: "Training loss by epoch",
  width: WIDTH,
  height: HEIGHT,
  data: { values: rows },
  mark: { type: "line", strokeWidth: 1.5, clip: true },
  encoding: {
    x: { field: "epoch", type: "quantitative", title: "epoch", axis: { tickMinStep: 1 }, scale: { domainMin: 0 } },
    y: { field: "loss", type: "quantitative", title: "training loss (batch)", scale: yScale(curveDomain(rows.map((r) => r.loss), "loss")) },
    color: { field: "run", type: "nominal", title: "run", legend: { labelLimit: 320 } }
  }
})

/** Fig. 6: validation accuracy per epoch, one line per run. */
export const valAccuracySpec = (rows: ReadonlyArray<{ run: string; epoch: number; accuracy: number }>): Spec => ({
  title: "Validation accuracy per epoch",
  width: WIDTH,
  height: HEIGHT,
  data: { values: rows },
  mark: { type: "line", point: true, clip: true },
  encoding: {
    x: { field: "epoch", type: "quantitative", title: "epoch", axis: { tickMinStep: 1 } },
    y: {
      field: "accuracy",
      type: "quantitative",
      title: "validation accuracy",
      axis: { format: ".1%" },
      scale: yScale(curveDomain(rows.map((r) => r.accuracy), "accuracy"))
    },
    color: { field: "run", type: "nominal", title: "run", legend: { labelLimit: 320 } }
  }
})

/** Fig. 7: for each true class (a row, named), its errors stacked by predicted class. */
export const errorsSpec = (
  run: string,
  rows: ReadonlyArray<{ trueClass: string; predicted: string; count: number }>,
  classes: ReadonlyArray<string>
): Spec => ({
  title: `Errors per true class, by predicted class (${run})`,
  width: WIDTH,
  height: HEIGHT,
  data: { values: rows },
  mark: "bar",
  encoding: {
    y: { field: "trueClass", type: "nominal", title: "true class", sort: [...classes], scale: { domain: [...classes] } },
    x: { field: "count", type: "quantitative", title: "misclassified test images", stack: "zero" },
    color: { field: "predicted", type: "nominal", title: "predicted as", scale: classScale(classes) }
  }
})

/** The 9-step "blues" scheme (ColorBrewer, as Vega has it), light to dark. */
const BLUES = ["#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b"]

const rgb = (hex: string): [number, number, number] => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number]
const hex = (c: ReadonlyArray<number>) => `#${c.map((v) => Math.round(v).toString(16).padStart(2, "0")).join("")}`

/** The blues colour at t in [0, 1], interpolated between the scheme's steps. */
export const blues = (t: number): string => {
  const at = Math.min(1, Math.max(0, t)) * (BLUES.length - 1)
  const i = Math.min(BLUES.length - 2, Math.floor(at))
  const [a, b] = [rgb(BLUES[i]!), rgb(BLUES[i + 1]!)]
  return hex(a.map((v, k) => v + (b[k]! - v) * (at - i)))
}

/** WCAG relative luminance of an sRGB colour (#rrggbb), 0 (black) to 1 (white). */
export const luminance = (color: string): number => {
  const [r, g, b] = rgb(color).map((v) => {
    const c = v / 255
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4
  })
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!
}

/** The text colour with the higher contrast on a background: white on dark cells, black on light ones. */
export const inkOn = (background: string): "white" | "black" => {
  const l = luminance(background)
  return (1.05 / (l + 0.05) > (l + 0.05) / 0.05 ? "white" : "black")
}

/**
 * The confusion matrix's cells with their colours: the fill on a log scale of the count (so the few errors
 * still show next to the diagonal), and the number's colour chosen by the fill's luminance.
 */
export const confusionCells = (
  confusion: ReadonlyArray<ReadonlyArray<number>>,
  classes: ReadonlyArray<string>
): Array<{ trueClass: string; predicted: string; count: number; fill: string; ink: "white" | "black" }> => {
  const max = Math.max(1, ...confusion.flat())
  return confusion.flatMap((row, t) =>
    row.map((count, p) => {
      const fill = blues(Math.log1p(count) / Math.log1p(max))
      return { trueClass: classes[t]!, predicted: classes[p]!, count, fill, ink: inkOn(fill) }
    })
  )
}

/** Fig. 7 (second part): the confusion matrix as a heat map, counts written in the cells. */
export const confusionSpec = (run: string, cells: ReturnType<typeof confusionCells>, classes: ReadonlyArray<string>): Spec => ({
  title: `Confusion matrix (${run})`,
  width: WIDTH,
  height: WIDTH,
  data: { values: cells },
  encoding: {
    x: { field: "predicted", type: "nominal", title: "predicted class", sort: [...classes], axis: { labelAngle: -40 } },
    y: { field: "trueClass", type: "nominal", title: "true class", sort: [...classes] }
  },
  layer: [
    { mark: "rect", encoding: { color: { field: "fill", type: "nominal", scale: null } } },
    { mark: { type: "text", fontSize: 9 }, encoding: { text: { field: "count", type: "quantitative" }, color: { field: "ink", type: "nominal", scale: null } } }
  ]
})

/** A sweep's recorded point: the values it set and the metric it reached. */
export interface SweepPoint {
  readonly point: number
  readonly params: Readonly<Record<string, unknown>>
  readonly metric: number
  /** A halving search's trial that was not promoted to the last rung: drawn in grey. */
  readonly stopped?: boolean
}

const distinctValues = (points: ReadonlyArray<SweepPoint>, param: string): Array<unknown> => {
  const seen = new Map<string, unknown>()
  for (const p of points) if (param in p.params) seen.set(JSON.stringify(p.params[param]), p.params[param])
  return [...seen.values()]
}

/** The params the points set to more than one value, in the order the points name them. */
export const sweptParams = (points: ReadonlyArray<SweepPoint>): Array<string> =>
  [...new Set(points.flatMap((p) => Object.keys(p.params)))].filter((k) => distinctValues(points, k).length > 1)

/** The swept params whose every value is a number: those a chart can put on a numeric axis. */
export const numericParams = (points: ReadonlyArray<SweepPoint>): Array<string> =>
  sweptParams(points).filter((k) => distinctValues(points, k).every((v) => typeof v === "number" && Number.isFinite(v)))

/** Positive values spanning two decades or more: an axis for them is logarithmic. */
export const spansDecades = (values: ReadonlyArray<number>): boolean => {
  const min = Math.min(...values)
  return min > 0 && Math.max(...values) / min >= 100
}

/** Fig. 9: the sweep's metric against one swept numeric param; each point a dot, the mean per value a line. */
export const metricVsParamSpec = (metric: string, param: string, points: ReadonlyArray<SweepPoint>): Spec => {
  const rows = points.filter((p) => typeof p.params[param] === "number").map((p) => ({ point: p.point, x: p.params[param] as number, metric: p.metric }))
  const log = spansDecades(rows.map((r) => r.x))
  const x = { field: "x", type: "quantitative", title: param, scale: log ? { type: "log" } : { zero: false } }
  const y = { field: "metric", type: "quantitative", title: metric, scale: { zero: false } }
  return {
    title: `${metric} versus ${param}${log ? " (log scale)" : ""}`,
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    layer: [
      { mark: { type: "line", color: "#999" }, encoding: { x, y: { ...y, aggregate: "mean" } } },
      { mark: { type: "circle", size: 60 }, encoding: { x, y, tooltip: [{ field: "point" }, { field: "x", title: param }, { field: "metric", title: metric }] } }
    ]
  }
}

const show = (v: unknown): string => (typeof v === "number" ? String(Number(v.toPrecision(4))) : typeof v === "string" ? v : JSON.stringify(v))

/**
 * The parallel-coordinates layout: one vertical axis per swept param and one for the metric, each point a
 * polyline across them. Each axis is scaled to [0, 1] on its own: numbers by value (by log value when they span
 * two decades), other values by their rank; `ticks` are the labels to write along each axis.
 */
export const parallelLayout = (metric: string, points: ReadonlyArray<SweepPoint>) => {
  const axes = [...sweptParams(points), metric]
  const scaleOf = (values: ReadonlyArray<unknown>): ((v: unknown) => number) => {
    if (values.every((v) => typeof v === "number")) {
      const nums = values as ReadonlyArray<number>
      const f = spansDecades(nums) ? Math.log10 : (v: number) => v
      const [lo, hi] = [Math.min(...nums.map(f)), Math.max(...nums.map(f))]
      return (v) => (hi > lo ? (f(v as number) - lo) / (hi - lo) : 0.5)
    }
    const order = values.map((v) => JSON.stringify(v)).sort()
    return (v) => (order.length > 1 ? order.indexOf(JSON.stringify(v)) / (order.length - 1) : 0.5)
  }
  const valueOf = (p: SweepPoint, axis: string): unknown => (axis === metric ? p.metric : p.params[axis])
  const scales = new Map(axes.map((a) => [a, scaleOf(a === metric ? points.map((p) => p.metric) : distinctValues(points, a))]))
  const lines = points.flatMap((p) =>
    axes.map((axis) => ({ point: p.point, axis, y: scales.get(axis)!(valueOf(p, axis)), metric: p.metric, ...(p.stopped ? { stopped: true } : {}) }))
  )
  const ticks = axes.flatMap((axis) => {
    const values = axis === metric ? [Math.min(...points.map((p) => p.metric)), Math.max(...points.map((p) => p.metric))] : distinctValues(points, axis)
    return [...new Map(values.map((v) => [show(v), v])).values()].map((v) => ({ axis, y: scales.get(axis)!(v), text: show(v) }))
  })
  return { axes, lines, ticks }
}

/** Fig. 10: the sweep as parallel coordinates, each point a line coloured by its metric. */
export const parallelSpec = (metric: string, points: ReadonlyArray<SweepPoint>): Spec => {
  const { axes, lines, ticks } = parallelLayout(metric, points)
  const x = { field: "axis", type: "nominal", sort: axes, title: "", scale: { domain: axes }, axis: { orient: "bottom", labelAngle: 0, labelPadding: 8, domain: false, ticks: false, labelLimit: 320 } }
  const y = { field: "y", type: "quantitative", axis: null, scale: { domain: [0, 1] } }
  return {
    title: `Sweep points across the swept params and ${metric}`,
    width: Math.max(WIDTH, axes.length * 140),
    height: HEIGHT,
    layer: [
      { data: { values: axes.map((axis) => ({ axis, y: 0, y2: 1 })) }, mark: { type: "rule", color: "#bbb" }, encoding: { x, y, y2: { field: "y2" } } },
      // Stopped trials (a halving search's) in grey, under the others.
      ...(lines.some((l) => l.stopped)
        ? [{ data: { values: lines.filter((l) => l.stopped) }, mark: { type: "line", strokeWidth: 1.5, color: "#ccc" }, encoding: { x, y, detail: { field: "point", type: "nominal" } } }]
        : []),
      {
        data: { values: lines.filter((l) => !l.stopped) },
        mark: { type: "line", strokeWidth: 2, opacity: 0.8 },
        encoding: { x, y, detail: { field: "point", type: "nominal" }, color: { field: "metric", type: "quantitative", title: metric, scale: { scheme: "viridis" }, legend: { titleLimit: 300 } } }
      },
      { data: { values: ticks }, mark: { type: "text", align: "left", dx: 4, fontSize: 10 }, encoding: { x, y, text: { field: "text" } } }
    ]
  }
}

/** One trial's figure after each epoch it trained. */
export interface TrialCurve {
  readonly trial: number
  readonly stopped: boolean
  readonly points: ReadonlyArray<{ readonly epoch: number; readonly value: number }>
}

/**
 * A search's figure against epochs, one line per trial: those that reached the last rung coloured (named in the
 * legend), stopped ones in grey under them, so where each was cut off shows.
 */
export const trialCurvesSpec = (metric: string, curves: ReadonlyArray<TrialCurve>): Spec => {
  const rows = curves.flatMap((c) => c.points.map((p) => ({ trial: `trial ${c.trial}`, epoch: p.epoch, value: p.value, stopped: c.stopped })))
  const x = { field: "epoch", type: "quantitative", title: "epoch", axis: { tickMinStep: 1 } }
  const y = { field: "value", type: "quantitative", title: metric, scale: { zero: false } }
  const order = curves.filter((c) => !c.stopped).map((c) => `trial ${c.trial}`)
  return {
    title: `${metric} by epoch, every trial`,
    width: WIDTH + 80,
    height: HEIGHT,
    layer: [
      ...(rows.some((r) => r.stopped)
        ? [{ data: { values: rows.filter((r) => r.stopped) }, mark: { type: "line", point: { size: 40, color: "#aaa" }, color: "#ccc", strokeWidth: 1.5 }, encoding: { x, y, detail: { field: "trial", type: "nominal" } } }]
        : []),
      {
        data: { values: rows.filter((r) => !r.stopped) },
        mark: { type: "line", point: true, strokeWidth: 2 },
        encoding: { x, y, color: { field: "trial", type: "nominal", title: "at the last rung", sort: order, scale: { scheme: "tableau10" }, legend: { titleLimit: 300 } } }
      }
    ]
  }
}

/** A point of a line chart: which line, where along x, its value. */
export interface LinePoint {
  readonly series: string
  readonly x: number
  readonly y: number
}

/** A plain line chart, a line per series (named in the legend), with points; y not forced to zero. */
export const lineSpec = (title: string, points: ReadonlyArray<LinePoint>, xTitle: string, yTitle: string): Spec => ({
  title,
  width: WIDTH,
  height: HEIGHT - 60,
  data: { values: points },
  mark: { type: "line", point: { size: 20 }, strokeWidth: 2 },
  encoding: {
    x: { field: "x", type: "quantitative", title: xTitle, axis: { tickMinStep: 1, format: "d" } },
    y: { field: "y", type: "quantitative", title: yTitle, scale: { zero: false } },
    color: { field: "series", type: "nominal", title: null, legend: { orient: "bottom", labelLimit: 360, columns: 2 } }
  }
})
