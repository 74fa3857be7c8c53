/** Param schemas shared by stage kinds and engines; each states what it expects, for error messages and the JSON Schema. */
import { Schema } from "effect"

export const PositiveInt = Schema.Int.pipe(Schema.positive({ description: "a positive integer" }))

export const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative({ description: "a non-negative integer" }))

export const Seed = Schema.Int.pipe(Schema.between(0, 2 ** 32 - 1, { description: "a seed (an integer from 0 to 2^32-1)" }))

/** An open interval (0, 1), e.g. a train fraction. */
export const Fraction = Schema.Number.pipe(
  Schema.greaterThan(0),
  Schema.lessThan(1, { description: "a number between 0 and 1 (exclusive)" })
)

export const Probability = Schema.Number.pipe(Schema.between(0, 1, { description: "a probability (0 to 1)" }))

/** With a default: `withDefault(PositiveInt, 4)`. */
export const withDefault = <A, I>(schema: Schema.Schema<A, I>, value: A) =>
  Schema.optionalWith(schema, { default: () => value })
