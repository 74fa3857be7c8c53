/**
 * The figure a sweep ranks its points by, named STAGE.FIGURE (`evaluate-mlp.test_accuracy`), with a goal (max:
 * higher is better; min: lower is). Pure: resolving a name against the pipeline's stages, the figures their kinds
 * declare (a command stage may report any figure) and the stages downstream of the swept params, whose figures
 * are the only ones that can differ between points.
 */
import { Either } from "effect"
import type { StageNode } from "./model.js"
import { didYouMean } from "./suggest.js"

export type Goal = "max" | "min"

/** A metric as declared (`metric: { name: STAGE.FIGURE, goal: max }`, or a sweep's `metric:` and `goal:`). */
export interface MetricDecl {
  readonly name: string
  readonly goal?: Goal
}

export interface MetricRef {
  readonly stage: string
  readonly figure: string
}

/** What resolving needs of a stage (a checked StageNode has it). */
export type MetricStage = { readonly kind: Pick<StageNode["kind"], "kind" | "figures">; readonly needs: ReadonlyArray<string> }

export const metricName = (m: MetricRef): string => `${m.stage}.${m.figure}`

/** The stages that are, or depend on, one of `from`. */
export const downstreamOf = (stages: ReadonlyMap<string, MetricStage>, from: Iterable<string>): Set<string> => {
  const seen = new Set(from)
  for (let grew = true; grew; ) {
    grew = false
    for (const [id, s] of stages) {
      if (!seen.has(id) && s.needs.some((n) => seen.has(n))) {
        seen.add(id)
        grew = true
      }
    }
  }
  return seen
}

/** Whether a stage may report this figure: its kind declares it, or cannot know in advance (a command). */
const mayReport = (s: MetricStage, figure: string) => s.kind.figures === undefined || s.kind.figures.includes(figure)

/**
 * STAGE.FIGURE names the stages' kinds declare: each stage's first (most telling) figure, then each one's
 * second..., later stages first (evaluations before trainings).
 */
export const metricCandidates = (stages: ReadonlyMap<string, MetricStage>, scope: ReadonlySet<string>): Array<string> => {
  const ids = [...stages.keys()].filter((id) => scope.has(id)).reverse()
  const lists = ids.map((id) => (stages.get(id)!.kind.figures ?? []).map((f) => `${id}.${f}`))
  const out: Array<string> = []
  for (let i = 0; lists.some((l) => i < l.length); i++) for (const l of lists) if (i < l.length) out.push(l[i]!)
  return out
}

const some = (names: ReadonlyArray<string>, n = 6) =>
  names.length > n ? `${names.slice(0, n).join(", ")}, ...` : names.join(", ")

/**
 * A metric name (STAGE.FIGURE, or a bare FIGURE that exactly one stage in scope may report) to the stage and
 * figure it names, or why it names none. With `swept` (the stages whose params a sweep varies), the stage must
 * be downstream of them: anything else has the same figure at every point.
 */
export const resolveMetric = (
  stages: ReadonlyMap<string, MetricStage>,
  name: string,
  swept?: ReadonlyArray<string>
): Either.Either<MetricRef, string> => {
  const ids = [...stages.keys()]
  const scope = swept ? downstreamOf(stages, swept) : new Set(ids)
  const sweptText = swept ? [...new Set(swept)].join(", ") : ""
  const dot = name.indexOf(".")
  if (dot > 0) {
    const stage = name.slice(0, dot)
    const figure = name.slice(dot + 1)
    const s = stages.get(stage)
    if (!s) return Either.left(`unknown stage '${stage}'${didYouMean(stage, ids)}; stages: ${ids.join(", ")}`)
    if (figure === "") return Either.left(`name a figure after the stage: ${stage}.FIGURE`)
    const declared = s.kind.figures
    if (declared !== undefined && !declared.includes(figure)) {
      return Either.left(
        declared.length === 0
          ? `stage ${stage} (${s.kind.kind}) reports no figures`
          : `stage ${stage} (${s.kind.kind}) reports no figure '${figure}'${didYouMean(figure, declared)}; its figures: ${declared.join(", ")}`
      )
    }
    if (!scope.has(stage)) {
      const others = [...scope].filter((id) => mayReport(stages.get(id)!, figure)).map((id) => `${id}.${figure}`)
      return Either.left(
        `${stage} is not reached by the swept params (of ${sweptText}), so its ${figure} is the same at every point; ` +
          (others.length ? `name a stage that does: ${some(others)}` : `figures that vary: ${some(metricCandidates(stages, scope)) || "none"}`)
      )
    }
    return Either.right({ stage, figure })
  }
  const candidates = ids.filter((id) => scope.has(id) && mayReport(stages.get(id)!, name))
  if (candidates.length === 1) return Either.right({ stage: candidates[0]!, figure: name })
  if (candidates.length > 1) {
    const commands = candidates.some((id) => stages.get(id)!.kind.figures === undefined)
    return Either.left(
      `several stages${swept ? ` that the swept params (of ${sweptText}) reach` : ""} may report '${name}'${
        commands ? " (a command stage may report any figure)" : ""
      }; name one as STAGE.FIGURE: ${candidates.map((id) => `${id}.${name}`).join(", ")}`
    )
  }
  const known = metricCandidates(stages, scope)
  return Either.left(
    `no stage${swept ? ` that the swept params (of ${sweptText}) reach` : ""} reports '${name}'${didYouMean(
      name,
      known.map((k) => k.slice(k.indexOf(".") + 1))
    )}; name one as STAGE.FIGURE${known.length ? `, e.g. ${some(known)}` : ""}`
  )
}
