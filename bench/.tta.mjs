import{createRequire as __cr}from'module';const require=__cr(import.meta.url);
var __defProp = Object.defineProperty;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __esm = (fn, res, err) => function __init() {
  if (err) throw err[0];
  try {
    return fn && (res = (0, fn[__getOwnPropNames(fn)[0]])(fn = 0)), res;
  } catch (e) {
    throw err = [e], e;
  }
};
var __export = (target, all2) => {
  for (var name in all2)
    __defProp(target, name, { get: all2[name], enumerable: true });
};

// stages/ml/tfjs/wasmKernels.ts
var wasmKernels_exports = {};
__export(wasmKernels_exports, {
  registerWasmTrainingKernels: () => registerWasmTrainingKernels
});
var registered, registerBatchNormGradient, registerLeadingReductions, registerMaxPoolGrad, registerPlainMatMul, registerWasmTrainingKernels;
var init_wasmKernels = __esm({
  "stages/ml/tfjs/wasmKernels.ts"() {
    "use strict";
    registered = false;
    registerBatchNormGradient = (tf2) => {
      tf2.registerGradient({
        kernelName: "FusedBatchNorm",
        inputsToSave: ["x", "mean", "variance", "scale"],
        gradFunc: (dy, saved, attrs) => {
          const d = dy;
          const [x, mean, variance, scale] = saved;
          const eps = attrs.varianceEpsilon;
          const scaleValue = scale ?? tf2.scalar(1);
          const axes = tf2.backend_util.getReductionAxes(mean.shape, x.shape);
          const reduce = (t) => tf2.reshape(mean.rank === 1 ? tf2.sum(t, axes) : t, mean.shape);
          const xMinusMean = tf2.sub(x, mean);
          const dyTimesScale = tf2.mul(d, scaleValue);
          const rstd = tf2.rsqrt(tf2.add(variance, tf2.scalar(eps)));
          const minusHalfRCube = tf2.mul(tf2.mul(tf2.mul(rstd, rstd), rstd), tf2.scalar(-0.5));
          return {
            x: () => tf2.reshape(tf2.mul(dyTimesScale, rstd), x.shape),
            mean: () => reduce(tf2.mul(tf2.mul(rstd, tf2.scalar(-1)), dyTimesScale)),
            variance: () => reduce(tf2.mul(tf2.mul(minusHalfRCube, xMinusMean), dyTimesScale)),
            scale: () => reduce(tf2.mul(d, tf2.mul(xMinusMean, rstd))),
            offset: () => reduce(d)
          };
        }
      });
    };
    registerLeadingReductions = (tf2) => {
      for (const name of ["Sum", "Mean"]) {
        const config = tf2.getKernel(name, "wasm");
        const original = config.kernelFunc;
        tf2.unregisterKernel(name, "wasm");
        tf2.registerKernel({
          ...config,
          kernelFunc: ((args) => {
            const { inputs, backend, attrs } = args;
            const x = inputs["x"];
            const rank = x.shape.length;
            const axis = attrs["axis"];
            const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => a < 0 ? a + rank : a).sort((a, b) => a - b);
            const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
            if (!leading || x.dtype !== "float32") return original(args);
            const m = x.shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
            const rest = x.shape.slice(axes.length);
            const r = rest.reduce((a, b) => a * b, 1);
            const out = backend.makeOutput(attrs["keepDims"] ? [...axes.map(() => 1), ...rest] : rest, "float32");
            const src = backend.typedArrayFromHeap(x);
            const acc = new Float64Array(r);
            for (let i = 0; i < m; i++) {
              const row = i * r;
              for (let j = 0; j < r; j++) acc[j] += src[row + j];
            }
            const dst = backend.typedArrayFromHeap(out);
            const k = name === "Mean" ? 1 / m : 1;
            for (let j = 0; j < r; j++) dst[j] = acc[j] * k;
            return out;
          })
        });
      }
    };
    registerMaxPoolGrad = (tf2) => {
      const config = tf2.getKernel("MaxPoolGrad", "wasm");
      if (config) tf2.unregisterKernel("MaxPoolGrad", "wasm");
      tf2.registerKernel({
        kernelName: "MaxPoolGrad",
        backendName: "wasm",
        kernelFunc: (({ inputs, backend, attrs }) => {
          const { dy, input } = inputs;
          const info = tf2.backend_util.computePool2DInfo(
            input.shape,
            attrs["filterSize"],
            attrs["strides"],
            1,
            attrs["pad"],
            attrs["dimRoundingMode"]
          );
          const [n2, h, w, c] = input.shape;
          const x = backend.typedArrayFromHeap(input);
          const g = backend.typedArrayFromHeap(dy);
          const out = backend.makeOutput(input.shape, "float32");
          const dx = backend.typedArrayFromHeap(out);
          dx.fill(0);
          const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
          const { top, left } = info.padInfo;
          for (let b = 0; b < n2; b++) {
            for (let i = 0; i < oh; i++) {
              for (let j = 0; j < ow; j++) {
                const y0 = i * sh - top;
                const x0 = j * sw - left;
                for (let ch = 0; ch < c; ch++) {
                  let best = -Infinity;
                  let at = -1;
                  for (let u = Math.max(0, y0); u < Math.min(h, y0 + fh); u++) {
                    for (let v = Math.max(0, x0); v < Math.min(w, x0 + fw); v++) {
                      const k = ((b * h + u) * w + v) * c + ch;
                      if (x[k] > best) {
                        best = x[k];
                        at = k;
                      }
                    }
                  }
                  if (at >= 0) dx[at] += g[((b * oh + i) * ow + j) * c + ch];
                }
              }
            }
          }
          return out;
        })
      });
    };
    registerPlainMatMul = (tf2, kernel) => {
      const config = tf2.getKernel("BatchMatMul", "wasm");
      const original = config.kernelFunc;
      const transpose = kernel("Transpose");
      tf2.unregisterKernel("BatchMatMul", "wasm");
      tf2.registerKernel({
        ...config,
        kernelFunc: ((args) => {
          const { inputs, backend, attrs } = args;
          if (!attrs["transposeA"] && !attrs["transposeB"]) return original(args);
          const swap = (x) => {
            const perm = x.shape.map((_, i) => i);
            perm.splice(-2, 2, perm.length - 1, perm.length - 2);
            return transpose({ inputs: { x }, backend, attrs: { perm } });
          };
          const a = attrs["transposeA"] ? swap(inputs["a"]) : inputs["a"];
          const b = attrs["transposeB"] ? swap(inputs["b"]) : inputs["b"];
          const out = original({ inputs: { ...inputs, a, b }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
          if (a !== inputs["a"]) backend.disposeData(a.dataId);
          if (b !== inputs["b"]) backend.disposeData(b.dataId);
          return out;
        })
      });
    };
    registerWasmTrainingKernels = (tf2) => {
      if (registered) return;
      registered = true;
      registerBatchNormGradient(tf2);
      const kernel = (name) => {
        const k = tf2.getKernel(name, "wasm");
        if (!k) throw new Error(`wasm backend has no ${name} kernel`);
        return k.kernelFunc;
      };
      const transpose = kernel("Transpose");
      const conv2d = kernel("Conv2D");
      const slice = kernel("Slice");
      const reverse = kernel("Reverse");
      const t = (backend, x, perm) => transpose({ inputs: { x }, backend, attrs: { perm } });
      const dispose = (backend, ...xs) => xs.forEach((x) => backend.disposeData(x.dataId));
      const convInfo = (xShape, filterShape, attrs) => {
        if (attrs["dataFormat"] !== void 0 && attrs["dataFormat"] !== "NHWC") {
          throw new Error(`wasm training kernels support NHWC only, got ${String(attrs["dataFormat"])}`);
        }
        return tf2.backend_util.computeConv2DInfo(
          xShape,
          filterShape,
          attrs["strides"],
          1,
          attrs["pad"],
          attrs["dimRoundingMode"],
          false,
          "channelsLast"
        );
      };
      tf2.registerKernel({
        kernelName: "Conv2DBackpropFilter",
        backendName: "wasm",
        kernelFunc: (({ inputs, backend, attrs }) => {
          const { x, dy } = inputs;
          const filterShape = attrs["filterShape"];
          const info = convInfo(x.shape, filterShape, attrs);
          const [fh, fw] = filterShape;
          const { top, left } = info.padInfo;
          const bottom = fh + (info.outHeight - 1) * info.strideHeight - info.inHeight - top;
          const right = fw + (info.outWidth - 1) * info.strideWidth - info.inWidth - left;
          let xt = t(backend, x, [3, 1, 2, 0]);
          if (bottom < 0 || right < 0) {
            const cropped = slice({
              inputs: { x: xt },
              backend,
              attrs: { begin: [0, 0, 0, 0], size: [-1, info.inHeight + Math.min(bottom, 0), info.inWidth + Math.min(right, 0), -1] }
            });
            dispose(backend, xt);
            xt = cropped;
          }
          const dyt = t(backend, dy, [1, 2, 0, 3]);
          const conv = conv2d({
            inputs: { x: xt, filter: dyt },
            backend,
            attrs: {
              strides: [1, 1],
              pad: [
                [0, 0],
                [top, Math.max(bottom, 0)],
                [left, Math.max(right, 0)],
                [0, 0]
              ],
              dataFormat: "NHWC",
              dilations: [info.strideHeight, info.strideWidth]
            }
          });
          const dw = t(backend, conv, [1, 2, 0, 3]);
          dispose(backend, xt, dyt, conv);
          return dw;
        })
      });
      const originalConfig = tf2.getKernel("Conv2DBackpropInput", "wasm");
      const original = originalConfig.kernelFunc;
      registerLeadingReductions(tf2);
      registerMaxPoolGrad(tf2);
      registerPlainMatMul(tf2, kernel);
      tf2.unregisterKernel("Conv2DBackpropInput", "wasm");
      tf2.registerKernel({
        kernelName: "Conv2DBackpropInput",
        backendName: "wasm",
        ...originalConfig.setupFunc ? { setupFunc: originalConfig.setupFunc } : {},
        kernelFunc: ((args) => {
          const { inputs, backend, attrs } = args;
          const { dy, filter } = inputs;
          const inputShape = attrs["inputShape"];
          const info = convInfo(inputShape, filter.shape, attrs);
          if (info.strideHeight !== 1 || info.strideWidth !== 1) return original(args);
          const [fh, fw] = filter.shape;
          const { top, left, bottom, right } = info.padInfo;
          const flipped = reverse({ inputs: { x: filter }, backend, attrs: { dims: [0, 1] } });
          const swapped = t(backend, flipped, [0, 1, 3, 2]);
          const dx = conv2d({
            inputs: { x: dy, filter: swapped },
            backend,
            attrs: {
              strides: [1, 1],
              pad: [
                [0, 0],
                [fh - 1 - top, fh - 1 - bottom],
                [fw - 1 - left, fw - 1 - right],
                [0, 0]
              ],
              dataFormat: "NHWC",
              dilations: [1, 1]
            }
          });
          dispose(backend, flipped, swapped);
          return dx;
        })
      });
    };
  }
});

// bench/.tta.ts
import { readFileSync as readFileSync3 } from "node:fs";

// stages/ml/augment.ts
var normalize = (src, dst, offset, mean, std) => {
  const scale = 1 / (255 * std);
  const shift = mean / std;
  for (let i = 0; i < src.length; i++) dst[offset + i] = src[i] * scale - shift;
};
var normalizeBatch = (p, images, order, out) => {
  const n2 = p.width * p.height;
  for (let i = 0; i < order.length; i++) normalize(images.subarray(order[i] * n2, order[i] * n2 + n2), out, i * n2, p.mean, p.std);
};

// stages/ml/imageSet.ts
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
var IMAGE_SET_FORMAT = "pipe-image-set/1";
var ImageSetError = class extends Error {
};
var readImageSet = (dir) => {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
  } catch (e) {
    throw new ImageSetError(`${dir}: no readable manifest.json (${e.message})`);
  }
  if (manifest.format !== IMAGE_SET_FORMAT) {
    throw new ImageSetError(`${dir}: manifest format ${JSON.stringify(manifest.format)}, expected ${IMAGE_SET_FORMAT}`);
  }
  const pixels = manifest.height * manifest.width * manifest.channels;
  const splits = {};
  for (const [name, s] of Object.entries(manifest.splits)) {
    const images = new Uint8Array(readFileSync(join(dir, s.images)));
    const labels = new Uint8Array(readFileSync(join(dir, s.labels)));
    if (labels.length !== s.count || images.length !== s.count * pixels) {
      throw new ImageSetError(
        `${dir}: split ${name} should hold ${s.count} images, found ${labels.length} labels and ${images.length / pixels} images`
      );
    }
    let index;
    if (s.index) {
      const raw = readFileSync(join(dir, s.index));
      index = new Uint32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    }
    splits[name] = { images, labels, count: s.count, ...index ? { index } : {}, ...s.from ? { from: s.from } : {} };
  }
  return { manifest, splits };
};

// stages/ml/tfjs/engine.ts
import { createRequire } from "node:module";
var PACKAGE = {
  "tensorflow-gpu": "@tensorflow/tfjs-node-gpu",
  tensorflow: "@tensorflow/tfjs-node",
  wasm: "@tensorflow/tfjs-backend-wasm",
  cpu: "@tensorflow/tfjs"
};
var require2 = createRequire(import.meta.url);
var BackendUnavailable = class extends Error {
};
var loadBackend = async (backend) => {
  if (backend === "tensorflow-gpu" || backend === "tensorflow") {
    const tf3 = await import(PACKAGE[backend]);
    tf3.enableProdMode();
    await tf3.setBackend("tensorflow");
    return tf3;
  }
  const tf2 = await import("@tensorflow/tfjs");
  tf2.enableProdMode();
  if (backend === "wasm") {
    await import("@tensorflow/tfjs-backend-wasm");
    const { registerWasmTrainingKernels: registerWasmTrainingKernels2 } = await Promise.resolve().then(() => (init_wasmKernels(), wasmKernels_exports));
    registerWasmTrainingKernels2(tf2);
  }
  if (!await tf2.setBackend(backend)) throw new BackendUnavailable(`backend ${backend} failed to initialise`);
  await tf2.ready();
  return tf2;
};

// stages/ml/tfjs/modelFiles.ts
import { readFileSync as readFileSync2, writeFileSync as writeFileSync2 } from "node:fs";
import { join as join2 } from "node:path";

// stages/ml/tfjs/seededDropout.ts
var SEEDED_DROPOUT = "SeededDropout";
var classes = /* @__PURE__ */ new WeakMap();
var seededDropoutClass = (tf2) => {
  const known = classes.get(tf2);
  if (known) return known;
  class SeededDropout extends tf2.layers.Layer {
    static className = SEEDED_DROPOUT;
    rate;
    seed;
    calls = 0;
    constructor(config) {
      super(config.name === void 0 ? {} : { name: config.name });
      this.rate = config.rate;
      this.seed = config.seed;
    }
    call(inputs, kwargs) {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      if (!kwargs["training"] || this.rate === 0) return tf2.clone(x);
      const seed = this.seed * 1048576 + ++this.calls;
      return tf2.dropout(x, this.rate, void 0, seed);
    }
    getConfig() {
      return { ...super.getConfig(), rate: this.rate, seed: this.seed };
    }
  }
  tf2.serialization.registerClass(SeededDropout);
  classes.set(tf2, SeededDropout);
  return SeededDropout;
};

// stages/ml/tfjs/modelFiles.ts
var loadModel = async (tf2, dir) => {
  const json = JSON.parse(readFileSync2(join2(dir, "model.json"), "utf8"));
  seededDropoutClass(tf2);
  const bin = readFileSync2(join2(dir, "weights.bin"));
  const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  return await tf2.loadLayersModel(
    tf2.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData })
  );
};

// bench/.tta.ts
var [modelDir, splitDir] = process.argv.slice(2);
var tf = await loadBackend("wasm");
var model = await loadModel(tf, modelDir);
var policy = JSON.parse(readFileSync3(`${modelDir}/policy.json`, "utf8"));
var test = readImageSet(splitDir).splits["test"];
var n = test.count;
var all = new Float32Array(n * 784);
normalizeBatch(policy, test.images, Uint32Array.from({ length: n }, (_, i) => i), all);
var plain = 0;
var tta = 0;
for (let s = 0; s < n; s += 500) {
  const m = Math.min(500, n - s);
  tf.tidy(() => {
    const x = tf.tensor4d(all.subarray(s * 784, (s + m) * 784), [m, 28, 28, 1]);
    const p1 = tf.softmax(model.predict(x));
    const p2 = tf.softmax(model.predict(tf.reverse(x, 2)));
    const a = tf.argMax(p1, 1).dataSync(), b = tf.argMax(tf.add(p1, p2), 1).dataSync();
    for (let i = 0; i < m; i++) {
      if (a[i] === test.labels[s + i]) plain++;
      if (b[i] === test.labels[s + i]) tta++;
    }
  });
}
console.log(JSON.stringify({ plain: plain / n, tta: tta / n }));
