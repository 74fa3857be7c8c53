/** The checked pipeline: what validation produces and planning consumes. */
import type { Json } from "../artifacts/canonical.js"
import type { AnyStageKind } from "./kind.js"
import type { MetricDecl } from "./metric.js"
import type { ExecutorSpec, Resources, SweepSpec } from "./spec.js"

export interface StageNode {
  readonly id: string
  readonly kind: AnyStageKind
  readonly description?: string
  readonly needs: ReadonlyArray<string>
  /** Which input slot of the kind each needed stage fills. */
  readonly slots: Readonly<Record<string, string>>
  /** Kind-specific fields, decoded. */
  readonly config: Readonly<Record<string, unknown>>
  /** Params, decoded, defaults applied. */
  readonly params: unknown
  /** Params and config in their encoded form: what the cache key sees. */
  readonly canonicalParams: Json
  readonly canonicalConfig: Json
  readonly deps: ReadonlyArray<string>
  /** What it needs to run (not part of its key). */
  readonly resources?: Resources
}

export interface Pipeline {
  readonly name: string
  readonly description?: string
  /** In declaration order. */
  readonly stages: ReadonlyMap<string, StageNode>
  /** A topological order (declaration order among independent stages). */
  readonly order: ReadonlyArray<string>
  /** The figure sweeps rank by unless told otherwise (`metric:` at the top level). */
  readonly metric?: MetricDecl
  /** Sweeps declared in the file, by name. */
  readonly sweeps: Readonly<Record<string, SweepSpec>>
  /** Where its stages run, when the file says. */
  readonly executor?: ExecutorSpec
}
