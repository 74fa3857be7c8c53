/** Running `train`: the engine the params name trains, from the split and the policy, into the output directory. */
import { Effect, Schema } from "effect"
import { StageError, type InputArtifact, type StageContext, type StageMetrics, type StageRunner } from "../pipelines/kind.js"
import { EngineError, settingsOf, type JobInput } from "../engines/engine.js"
import { TrainingParams } from "../engines/params.js"
import { engineNamed, type Engines } from "../engines/registry.js"

const inputOf = (ctx: StageContext<unknown, unknown>, slot: string): JobInput => {
  const input: InputArtifact | undefined = ctx.inputs.find((i) => i.slot === slot)
  if (!input) throw new StageError({ message: `bug: no ${slot} input` })
  return { stage: input.stage, dir: input.dir, hash: input.hash }
}

export const runner = (engines: Engines): StageRunner<unknown, TrainingParams & { readonly engine: string }> => ({
  run: (ctx) =>
    Effect.tryPromise({
      try: async (signal): Promise<StageMetrics> => {
        const engine = engineNamed(engines, ctx.params.engine)
        return await engine.train({
          split: inputOf(ctx, "split"),
          policy: inputOf(ctx, "augment"),
          outDir: ctx.outDir,
          training: Schema.validateSync(TrainingParams)(ctx.params),
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
            : new StageError({ message: `training failed: ${(e as Error).stack ?? String(e)}` })
    })
})
