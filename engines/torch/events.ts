/**
 * What the torch worker (worker.py) prints on stdout, one JSON object a line: progress while it trains, then
 * `done` with its results, or `error`. Decoded here, so the driver reads typed fields; a line that is not one
 * of these goes to the log as it is.
 */
import { Either, Schema } from "effect"

export const Start = Schema.Struct({
  type: Schema.Literal("start"),
  model: Schema.String,
  parameters: Schema.Number,
  device: Schema.String,
  train: Schema.Number,
  val: Schema.Number
})

export const Step = Schema.Struct({
  type: Schema.Literal("step"),
  epoch: Schema.Number,
  step: Schema.Number,
  loss: Schema.Number,
  lr: Schema.Number,
  seen: Schema.Number,
  total: Schema.Number,
  images_per_s: Schema.Number
})

export const Epoch = Schema.Struct({
  type: Schema.Literal("epoch"),
  epoch: Schema.Number,
  step: Schema.Number,
  train_loss: Schema.Number,
  train_acc: Schema.Number,
  val_loss: Schema.Number,
  val_acc: Schema.Number,
  lr: Schema.Number,
  images_per_s: Schema.Number,
  seconds: Schema.Number
})

export const TrainProgress = Schema.Union(Start, Step, Epoch)
export type TrainProgress = Schema.Schema.Type<typeof TrainProgress>

export const Trained = Schema.Struct({ type: Schema.Literal("done"), parameters: Schema.Number, device: Schema.String })

export const Evaluated = Schema.Struct({
  type: Schema.Literal("done"),
  correct: Schema.Number,
  count: Schema.Number,
  loss: Schema.Number,
  plain_correct: Schema.Number,
  parameters: Schema.Number,
  ms_per_image_batch: Schema.NullOr(Schema.Number),
  ms_per_image_single: Schema.Number,
  device: Schema.String
})

export const Failed = Schema.Struct({ type: Schema.Literal("error"), message: Schema.String })

/** One line of output as an event of `schema`, or undefined when it is not one. */
export const eventOf = <A, I>(schema: Schema.Schema<A, I>, line: string): A | undefined => {
  let json: unknown
  try {
    json = JSON.parse(line)
  } catch {
    return undefined
  }
  return Either.getOrUndefined(Schema.decodeUnknownEither(schema)(json))
}
