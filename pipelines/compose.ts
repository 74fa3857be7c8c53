/**
 * Composing pipelines in TypeScript. `stage()` returns a typed handle to the stage's output artifact and
 * `needs` only accepts handles whose artifact type the kind takes, so wiring mistakes are compile errors.
 * The builder produces the same plain document pipeline.yaml decodes to, so both routes are checked by
 * the same `validate` and give the same DAG and cache keys.
 *
 *   const p = pipeline("demo")
 *   const data = p.stage("data", commandKind, { cmd: ["sh", "-c", "..."] })
 *   p.stage("train", commandKind, { needs: [data], cmd: [...], params: { lr: 0.01 } })
 *   export default p
 */
import type { Schema } from "effect"
import type { InputSlot, StageKind } from "./kind.js"
import type { ExecutorSpec, Resources } from "./spec.js"

/** A stage's output, typed by its artifact type. */
export interface Handle<T extends string> {
  readonly id: string
  readonly type: T
}

type AnyKind = StageKind<string, any, any, string, Readonly<Record<string, InputSlot>>, any>

/** The artifact types a kind takes; "any" accepts every handle. */
type Accepted<In extends Readonly<Record<string, InputSlot>>> = {
  [S in keyof In]: In[S]["type"] extends "any" ? string : In[S]["type"]
}[keyof In]

export type StageOptions<K extends AnyKind> = {
  readonly needs?: ReadonlyArray<Handle<Accepted<K["inputs"]>>>
  readonly params?: Schema.Schema.Encoded<K["params"]>
  readonly description?: string
  /** What the stage needs to run (`resources:` in pipeline.yaml); not part of its key. */
  readonly resources?: Schema.Schema.Encoded<typeof Resources>
} & Schema.Struct.Encoded<K["fields"]>

export interface PipelineDocument {
  readonly name: string
  readonly description?: string
  readonly metric?: { readonly name: string; readonly goal?: "max" | "min" }
  readonly sweeps?: Record<string, SweepDeclaration>
  readonly executor?: Schema.Schema.Encoded<typeof ExecutorSpec>
  readonly stages: Record<string, Record<string, unknown>>
}

/** A sweep declared in a composed pipeline: as under `sweeps:` in pipeline.yaml. */
export interface SweepDeclaration {
  /** STAGE.PARAM (or a PARAM only one stage has) to its values, or to a range text such as "log(1e-4,1e-1,4)". */
  readonly grid: Readonly<Record<string, ReadonlyArray<unknown> | string>>
  readonly metric?: string
  readonly goal?: "max" | "min"
  readonly description?: string
  readonly max_points?: number
}

export class PipelineBuilder {
  private readonly stages: Record<string, Record<string, unknown>> = {}
  private metricDecl: PipelineDocument["metric"]
  private readonly sweeps: Record<string, SweepDeclaration> = {}
  private executorDecl: PipelineDocument["executor"]

  constructor(
    readonly name: string,
    readonly description?: string
  ) {}

  stage<K extends AnyKind>(id: string, kind: K, options: StageOptions<K>): Handle<K["output"]> {
    if (id in this.stages) throw new Error(`stage '${id}' is defined twice`)
    const { needs, ...rest } = options as StageOptions<K> & Record<string, unknown>
    this.stages[id] = {
      kind: kind.kind,
      ...(needs && needs.length > 0 ? { needs: needs.map((h) => h.id) } : {}),
      ...rest
    }
    return { id, type: kind.output }
  }

  /** The figure sweeps rank by unless told otherwise (`metric:` in pipeline.yaml): STAGE.FIGURE. */
  metric(name: string, goal?: "max" | "min"): this {
    this.metricDecl = { name, ...(goal ? { goal } : {}) }
    return this
  }

  /** A named sweep, run by `pipe sweep NAME` (`sweeps:` in pipeline.yaml). */
  sweep(name: string, declaration: SweepDeclaration): this {
    if (name in this.sweeps) throw new Error(`sweep '${name}' is declared twice`)
    this.sweeps[name] = declaration
    return this
  }

  /** Where stages run unless the command line says otherwise (`executor:` in pipeline.yaml). */
  executor(declaration: NonNullable<PipelineDocument["executor"]>): this {
    this.executorDecl = declaration
    return this
  }

  toDocument(): PipelineDocument {
    return {
      name: this.name,
      ...(this.description !== undefined ? { description: this.description } : {}),
      ...(this.metricDecl ? { metric: { ...this.metricDecl } } : {}),
      ...(Object.keys(this.sweeps).length ? { sweeps: structuredClone(this.sweeps) } : {}),
      ...(this.executorDecl ? { executor: structuredClone(this.executorDecl) } : {}),
      stages: structuredClone(this.stages)
    }
  }
}

export const pipeline = (name: string, description?: string): PipelineBuilder => new PipelineBuilder(name, description)
