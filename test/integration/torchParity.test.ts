/**
 * The torch worker draws the same random streams as the TypeScript side: the same epoch shuffle and the same
 * augmented, normalised images from the same policy, byte for byte (run through Debian's python3 with torch,
 * which .ci/run installs).
 */
import { execa } from "execa"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { augmentBatch, epochRng, POLICY_FORMAT, type AugmentPolicy } from "../../ml/augment.js"
import { rng, shuffle } from "../../ml/rng.js"

const WORKER_DIR = resolve(import.meta.dirname, "../../engines/torch")
const PYTHON = process.env["PIPE_PYTHON"] ?? "/usr/bin/python3"
const dir = mkdtempSync(join(tmpdir(), "pipe-parity-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("the torch worker's random streams", () => {
  it("shuffle and augment exactly as the tfjs engine does", async () => {
    const count = 64
    const r = rng(11)
    const images = Uint8Array.from({ length: count * 784 }, () => r.int(256))
    writeFileSync(join(dir, "images.u8"), images)
    const policy: AugmentPolicy = { format: POLICY_FORMAT, height: 28, width: 28, pad: 4, flip: 0.5, rotate: 10, brightness: 0.2, mean: 0.5, std: 0.5, seed: 3 }
    const seed = 9
    const epoch = 2
    const order = Array.from(shuffle(Uint32Array.from({ length: count }, (_, i) => i), rng(seed, epoch)))
    const ts = new Float32Array(count * 784)
    augmentBatch(policy, images, order, ts, epochRng(policy, epoch))

    const script = `
import json, sys
import numpy as np
sys.path.insert(0, ${JSON.stringify(WORKER_DIR)})
import worker as w
policy = json.loads(${JSON.stringify(JSON.stringify(policy))})
images = np.fromfile(${JSON.stringify(join(dir, "images.u8"))}, dtype=np.uint8).reshape(-1, 28, 28)
order = w.shuffle(list(range(${count})), w.Rng(${seed}, ${epoch}))
x = w.normalize(w.augment_epoch(policy, images, order, ${epoch}), policy).numpy().astype(np.float32)
x.tofile(${JSON.stringify(join(dir, "py.f32"))})
print(json.dumps(order))
`
    const py = await execa(PYTHON, ["-c", script])
    expect(JSON.parse(py.stdout)).toEqual(order)
    const buf = readFileSync(join(dir, "py.f32"))
    const pyOut = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4)
    expect(pyOut.length).toBe(ts.length)
    let worst = 0
    for (let i = 0; i < ts.length; i++) worst = Math.max(worst, Math.abs(pyOut[i]! - ts[i]!))
    // The same bytes before normalising: the only difference is float rounding in the normalisation.
    expect(worst).toBeLessThan(1e-5)
  }, 60_000)

  it("augments an epoch as batched tensor ops with the same bytes as image by image, for two epochs", async () => {
    // 300 images, crops, flips, rotation and brightness: the draws computed at once, the images cut out together.
    const script = `
import sys, json
import numpy as np, torch
sys.path.insert(0, ${JSON.stringify(WORKER_DIR)})
import worker as w
images = np.random.RandomState(5).randint(0, 256, size=(300, 28, 28)).astype(np.uint8)
out = []
for policy in [dict(height=28, width=28, pad=4, flip=0.5, rotate=0, brightness=0, mean=0.5, std=0.5, seed=3),
               dict(height=28, width=28, pad=4, flip=0.5, rotate=10, brightness=0.2, mean=0.5, std=0.5, seed=7),
               dict(height=28, width=28, pad=0, flip=0, rotate=0, brightness=0, mean=0, std=1, seed=1)]:
    for epoch in (1, 2):
        order = w.shuffle(list(range(300)), w.Rng(9, epoch))
        fast = w.epoch_order(300, w.Rng(9, epoch))
        one = w.augment_epoch(policy, images, order, epoch)
        batched = w.augment_epoch_tensor(policy, torch.from_numpy(images), torch.from_numpy(fast), epoch).numpy()
        normal = w.normalize(one, policy).numpy()
        normal_t = w.normalize_tensor(torch.from_numpy(batched), policy).numpy()
        out.append(dict(same_order=fast.tolist() == order, differing_bytes=int((one != batched).sum()),
                        same_normalised=bool(np.array_equal(normal, normal_t)), changed=int((one != images[order]).sum())))
print(json.dumps(out))
`
    const py = await execa(PYTHON, ["-c", script])
    const cases = JSON.parse(py.stdout) as Array<{ same_order: boolean; differing_bytes: number; same_normalised: boolean; changed: number }>
    expect(cases).toHaveLength(6)
    for (const c of cases) expect(c).toMatchObject({ same_order: true, differing_bytes: 0, same_normalised: true })
    // The augmentation did something (crops and flips move pixels), except for the plain policy.
    expect(cases.slice(0, 4).every((c) => c.changed > 0)).toBe(true)
    expect(cases.slice(4).every((c) => c.changed === 0)).toBe(true)
  }, 120_000)
})
