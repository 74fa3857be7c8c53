/**
 * The engines `train` and `evaluate` can run on, by name: the `engine` param takes one of these keys. A new
 * engine is a folder under engines/ and one entry here.
 */
import { Effect, Record as R, Schema, type Types } from "effect"
import { withDefault } from "../ml/schemas.js"
import { EngineError, settingsOf, type Engine, type EngineIdentity } from "./engine.js"
import { tfjsEngine } from "./tfjs/tfjsEngine.js"
import { torchEngine } from "./torch/torchEngine.js"

export const engines = { tfjs: tfjsEngine, torch: torchEngine }

/** Engines by name, as train and evaluate take them (tests add their own). */
export type Engines = Readonly<Record<string, Engine>>

/** The engine a stage runs on unless it says otherwise. */
export const DEFAULT_ENGINE = "tfjs"

/** "a or b", "one of a, b, c": the names, as a param's description. */
const oneOf = (names: ReadonlyArray<string>): string =>
  names.length <= 2 ? names.join(" or ") : `one of ${names.join(", ")}`

/** The `engine` param: one of the registry's names. */
type EngineParam<E extends Engines> = Schema.optionalWith<Schema.Schema<keyof E & string>, { default: () => keyof E & string }>

/** Every engine's settings fields, as one set of fields (each engine's own, intersected). */
type SettingsFields<E extends Engines> = Types.UnionToIntersection<{ [K in keyof E]: E[K] extends Engine<infer F> ? F : never }[keyof E]>

/** The params train and evaluate add for the engines. */
export type EngineParams<E extends Engines> = { readonly engine: EngineParam<E> } & SettingsFields<E>

/**
 * The params train and evaluate add for the engines: `engine`, one of their names, and every engine's own
 * settings (each engine reads its own; none enters the key, the engine identity stands for them).
 */
export const engineParams = <E extends Engines>(engines: E, fallback: keyof E & string): EngineParams<E> => {
  const names = Schema.keyof(Schema.Struct(R.map(engines, () => Schema.Never)))
  const engine: EngineParam<E> = withDefault(names.annotations({ description: oneOf(Object.keys(engines)) }), fallback)
  return Object.assign({ engine }, ...Object.values(engines).map((e) => e.params))
}

/** The names of the engines' own settings: left out of the key. */
export const settingNames = (engines: Engines): Array<string> => Object.values(engines).flatMap((e) => Object.keys(e.params))

/** The engine a stage's params name (the `engine` param only takes the registry's names). */
export const engineNamed = (engines: Engines, name: string): Engine => {
  const engine = engines[name]
  if (!engine) throw new EngineError({ message: `bug: no engine named ${name}` })
  return engine
}

/** What the engine the params name would run, with its settings from them: the record that enters the key. */
export const identityOf = (engines: Engines, params: { readonly engine: string }): Effect.Effect<EngineIdentity, EngineError> =>
  Effect.suspend(() => {
    const engine = engineNamed(engines, params.engine)
    return engine.identity(settingsOf(engine, params))
  })
