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
import type { InputSlot, StageKind } from "../stages/kind.js"

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
} & Schema.Struct.Encoded<K["fields"]>

export interface PipelineDocument {
  readonly name: string
  readonly description?: string
  readonly stages: Record<string, Record<string, unknown>>
}

export class PipelineBuilder {
  private readonly stages: Record<string, Record<string, unknown>> = {}

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

  toDocument(): PipelineDocument {
    return {
      name: this.name,
      ...(this.description !== undefined ? { description: this.description } : {}),
      stages: structuredClone(this.stages)
    }
  }
}

export const pipeline = (name: string, description?: string): PipelineBuilder => new PipelineBuilder(name, description)
