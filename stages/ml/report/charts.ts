/**
 * The report's charts as Vega-Lite specs, rendered to SVG in Node by Vega (no browser, no canvas). Vega is
 * imported when the first chart is drawn, so nothing else pays for it.
 */
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

/** Fig. 5: training loss per step, one line per run. */
export const lossSpec = (rows: ReadonlyArray<{ run: string; step: number; loss: number }>): Spec => ({
  title: "Training loss per step",
  width: WIDTH,
  height: HEIGHT,
  data: { values: rows },
  mark: { type: "line", strokeWidth: 1.5 },
  encoding: {
    x: { field: "step", type: "quantitative", title: "step" },
    y: { field: "loss", type: "quantitative", title: "loss", scale: { zero: false } },
    color: { field: "run", type: "nominal", title: "run" }
  }
})

/** Fig. 6: validation accuracy per epoch, one line per run. */
export const valAccuracySpec = (rows: ReadonlyArray<{ run: string; epoch: number; accuracy: number }>): Spec => ({
  title: "Validation accuracy per epoch",
  width: WIDTH,
  height: HEIGHT,
  data: { values: rows },
  mark: { type: "line", point: true },
  encoding: {
    x: { field: "epoch", type: "quantitative", title: "epoch", axis: { tickMinStep: 1 } },
    y: { field: "accuracy", type: "quantitative", title: "validation accuracy", axis: { format: ".1%" }, scale: { zero: false } },
    color: { field: "run", type: "nominal", title: "run" }
  }
})

/** Fig. 7: for each true class, its errors stacked by predicted class. */
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
    x: { field: "trueClass", type: "nominal", title: "true class", sort: [...classes], axis: { labelAngle: -40 } },
    y: { field: "count", type: "quantitative", title: "misclassified test images", stack: "zero" },
    color: { field: "predicted", type: "nominal", title: "predicted as", scale: classScale(classes) }
  }
})

/** Fig. 7 (second part): the confusion matrix as a heat map, counts written in the cells. */
export const confusionSpec = (
  run: string,
  rows: ReadonlyArray<{ trueClass: string; predicted: string; count: number }>,
  classes: ReadonlyArray<string>
): Spec => ({
  title: `Confusion matrix (${run})`,
  width: WIDTH,
  height: WIDTH,
  data: { values: rows },
  encoding: {
    x: { field: "predicted", type: "nominal", title: "predicted class", sort: [...classes], axis: { labelAngle: -40 } },
    y: { field: "trueClass", type: "nominal", title: "true class", sort: [...classes] }
  },
  layer: [
    { mark: "rect", encoding: { color: { field: "count", type: "quantitative", title: "images", scale: { type: "symlog", scheme: "blues" } } } },
    {
      mark: { type: "text", fontSize: 9 },
      encoding: {
        text: { field: "count", type: "quantitative" },
        color: { condition: { test: "datum.count > 300", value: "white" }, value: "black" }
      }
    }
  ]
})
