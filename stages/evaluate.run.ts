/** Running `evaluate`: the engine that trained the model evaluates it on the test split. */
import { Effect, Schema } from "effect"
import { StageError, type StageMetrics, type StageRunner } from "../pipelines/kind.js"
import { asStageError, inputOf, jobBase } from "./engineJob.js"
import { EvaluationParams } from "../engines/params.js"
import { engineNamed, type Engines } from "../engines/registry.js"
import { readModelConfig } from "../ml/modelArtifact.js"

export const runner = (engines: Engines): StageRunner<unknown, EvaluationParams & { readonly engine: string }> => ({
  run: (ctx) =>
    Effect.tryPromise({
      try: async (signal): Promise<StageMetrics> => {
        const model = inputOf(ctx, "model")
        const trainedOn = readModelConfig(model.dir).engine.engine
        if (trainedOn !== ctx.params.engine) {
          throw new StageError({
            message: `${model.stage} was trained on the ${trainedOn} engine; evaluate it on the same one (params: { engine: ${trainedOn} })`
          })
        }
        const engine = engineNamed(engines, ctx.params.engine)
        return await engine.evaluate({
          model,
          split: inputOf(ctx, "split"),
          evaluation: Schema.validateSync(EvaluationParams)(ctx.params),
          ...jobBase(ctx, engine, signal)
        })
      },
      catch: asStageError("evaluation")
    })
})
