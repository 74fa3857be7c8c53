/** Running `train`: the engine the params name trains, from the split and the policy, into the output directory. */
import { Effect, Schema } from "effect"
import type { StageMetrics, StageRunner } from "../pipelines/kind.js"
import { asStageError, inputOf, jobBase } from "./engineJob.js"
import { TrainingParams } from "../engines/params.js"
import { engineNamed, type Engines } from "../engines/registry.js"

export const runner = (engines: Engines): StageRunner<unknown, TrainingParams & { readonly engine: string }> => ({
  run: (ctx) =>
    Effect.tryPromise({
      try: async (signal): Promise<StageMetrics> => {
        const engine = engineNamed(engines, ctx.params.engine)
        const resume = ctx.inputs.some((i) => i.slot === "resume") ? { resume: inputOf(ctx, "resume") } : {}
        return await engine.train({
          split: inputOf(ctx, "split"),
          policy: inputOf(ctx, "augment"),
          ...resume,
          training: Schema.validateSync(TrainingParams)(ctx.params),
          ...jobBase(ctx, engine, signal)
        })
      },
      catch: asStageError("training")
    })
})
