/** Running `evaluate`: the engine that trained the model evaluates it on the test split. */
import { Effect, Schema } from "effect"
import { StageError, type InputArtifact, type StageContext, type StageMetrics, type StageRunner } from "../pipelines/kind.js"
import { EngineError, settingsOf, type JobInput } from "../engines/engine.js"
import { EvaluationParams } from "../engines/params.js"
import { engineNamed, type Engines } from "../engines/registry.js"
import { readModelConfig } from "../ml/modelArtifact.js"

const inputOf = (ctx: StageContext<unknown, unknown>, slot: string): JobInput => {
  const input: InputArtifact | undefined = ctx.inputs.find((i) => i.slot === slot)
  if (!input) throw new StageError({ message: `bug: no ${slot} input` })
  return { stage: input.stage, dir: input.dir, hash: input.hash }
}

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
          outDir: ctx.outDir,
          evaluation: Schema.validateSync(EvaluationParams)(ctx.params),
          params: settingsOf(engine, ctx.params),
          log: ctx.log,
          progress: ctx.progress,
          spawn: ctx.spawn,
          signal
        })
      },
      catch: (e) =>
        e instanceof StageError
          ? e
          : e instanceof EngineError
            ? new StageError({ message: e.message })
            : new StageError({ message: `evaluation failed: ${(e as Error).stack ?? String(e)}` })
    })
})
