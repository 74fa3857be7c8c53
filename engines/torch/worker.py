#!/usr/bin/env python3
"""pipe's PyTorch worker: trains and evaluates the seed's models on a split artifact, for the `torch` engine.

It runs on its own, from a JSON job file and the split's binary arrays, so it also works on a machine
without Node.js:

    python3 worker.py job.json          # or: python3 worker.py - < job.json

A job is {"task": "probe" | "train" | "evaluate", ...} (see train() and evaluate() for the fields). Progress
and results are printed as JSON lines on stdout; anything else goes to stderr. Exit 0 on success, 1 on a
failed task, 3 when torch is missing.

The models, augmentation, learning-rate schedule and random streams are those of the TensorFlow.js engine
(engines/tfjs/models.ts, ml/augment.ts, ml/rng.ts), so the same policy artifact and seed give
the same shuffles and the same augmentation draws on both engines.
"""
import json
import math
import os
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover - reported to the caller
    print(json.dumps({"type": "error", "message": f"cannot import torch: {e}"}), flush=True)
    sys.exit(3)


def emit(**event):
    print(json.dumps(event), flush=True)


# ---------------------------------------------------------------------------------------------------------
# Seeded streams: splitmix32 mixing and mulberry32, exactly as stages/ml/rng.ts (32-bit arithmetic).

M32 = 0xFFFFFFFF


def _imul(a, b):
    return (a * b) & M32


def _mix(x):
    x = (x + 0x9E3779B9) & M32
    x = _imul(x ^ (x >> 16), 0x85EBCA6B)
    x = _imul(x ^ (x >> 13), 0xC2B2AE35)
    return (x ^ (x >> 16)) & M32


class Rng:
    def __init__(self, seed, *stream):
        s = _mix(seed & M32)
        for x in stream:
            s = _mix(s ^ (x & M32))
        self.s = s

    def next(self):
        self.s = (self.s + 0x6D2B79F5) & M32
        s = self.s
        t = _imul(s ^ (s >> 15), 1 | s)
        t = ((t + _imul(t ^ (t >> 7), 61 | t)) & M32) ^ t
        return ((t ^ (t >> 14)) & M32) / 4294967296

    def int(self, n):
        return math.floor(self.next() * n)


def shuffle(a, r):
    """Fisher-Yates in place, as shuffle() in rng.ts."""
    for i in range(len(a) - 1, 0, -1):
        j = r.int(i + 1)
        a[i], a[j] = a[j], a[i]
    return a


def draws(r, count):
    """The next `count` values of r.next() at once, advancing r past them (mulberry32 is counter-based: the k-th
    call's state is the start state plus k times the increment), as float64 in [0, 1), bit for bit r.next()'s."""
    k = np.arange(1, count + 1, dtype=np.uint64)
    m = np.uint64(M32)
    st = (np.uint64(r.s) + k * np.uint64(0x6D2B79F5)) & m
    t = ((st ^ (st >> np.uint64(15))) * (st | np.uint64(1))) & m
    t = ((t + (((t ^ (t >> np.uint64(7))) * (t | np.uint64(61))) & m)) & m) ^ t
    r.s = (r.s + count * 0x6D2B79F5) & M32
    return ((t ^ (t >> np.uint64(14))) & m).astype(np.float64) / 4294967296


def epoch_order(n, r):
    """shuffle(list(range(n)), r) with the draws computed at once; the swaps stay in order."""
    if n < 2:
        return np.arange(n, dtype=np.int64)
    d = draws(r, n - 1)
    bound = np.arange(n, 1, -1, dtype=np.float64)  # i + 1 for i = n-1 .. 1
    js = np.floor(d * bound).astype(np.int64).tolist()
    a = list(range(n))
    for i, j in zip(range(n - 1, 0, -1), js):
        a[i], a[j] = a[j], a[i]
    return np.array(a, dtype=np.int64)


# ---------------------------------------------------------------------------------------------------------
# Data: the split artifact's raw arrays, and the augmentation policy.


def load_split(directory):
    manifest = json.load(open(os.path.join(directory, "manifest.json")))
    h, w = manifest.get("height", 28), manifest.get("width", 28)
    parts = {}
    for name in ("train", "val", "test"):
        images = os.path.join(directory, f"{name}-images.u8")
        if os.path.exists(images):
            x = np.fromfile(images, dtype=np.uint8).reshape(-1, h, w)
            y = np.fromfile(os.path.join(directory, f"{name}-labels.u8"), dtype=np.uint8)
            parts[name] = (x, y)
    return manifest, parts


def augment_epoch(policy, images, order, epoch):
    """The epoch's augmented images in `order`, drawn from rng(policy.seed, epoch) as augmentBatch does."""
    r = Rng(policy["seed"], epoch)
    h, w, pad = policy["height"], policy["width"], policy["pad"]
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad))) if pad > 0 else images
    out = np.empty((len(order), h, w), dtype=np.uint8)
    for k, i in enumerate(order):
        dx = r.int(2 * pad + 1)
        dy = r.int(2 * pad + 1)
        flip = r.next() < policy["flip"]
        u = r.next()
        v = r.next()
        img = padded[i, dy:dy + h, dx:dx + w]
        if flip:
            img = img[:, ::-1]
        if policy.get("rotate", 0) > 0 or policy.get("brightness", 0) > 0:
            img = _rotate_brighten(img, (u * 2 - 1) * policy.get("rotate", 0), 1 + (v * 2 - 1) * policy.get("brightness", 0))
        out[k] = img
    return out


def epoch_draws(policy, count, epoch):
    """The per-image draws of augment_epoch (dx, dy, flip, u, v for each image in turn), computed at once."""
    pad = policy["pad"]
    d = draws(Rng(policy["seed"], epoch), 5 * count).reshape(count, 5)
    dx = np.floor(d[:, 0] * (2 * pad + 1)).astype(np.int64)
    dy = np.floor(d[:, 1] * (2 * pad + 1)).astype(np.int64)
    return dx, dy, d[:, 2] < policy["flip"], d[:, 3], d[:, 4]


def augment_epoch_tensor(policy, images, order, epoch):
    """augment_epoch as batched tensor ops on the device `images` (a uint8 tensor [N, h, w]) lives on: the same
    draws, so the same bytes. `order` is a tensor of indices (int64, on the same device)."""
    return augment_slice(policy, images, epoch_plan(policy, order, epoch), 0, len(order))


def epoch_plan(policy, order, epoch):
    """An epoch's shuffle and augmentation draws, as tensors on the device of `order`, for augment_slice."""
    dev = order.device
    dx, dy, flip, u, v = epoch_draws(policy, len(order), epoch)
    rotate, brightness = policy.get("rotate", 0), policy.get("brightness", 0)
    return {
        "order": order,
        "dx": torch.from_numpy(dx).to(dev),
        "dy": torch.from_numpy(dy).to(dev),
        "flip": torch.from_numpy(flip).to(dev),
        "degrees": torch.from_numpy((u * 2 - 1) * rotate).to(dev) if rotate > 0 or brightness > 0 else None,
        "factors": torch.from_numpy(1 + (v * 2 - 1) * brightness).to(dev) if rotate > 0 or brightness > 0 else None,
    }


def augment_slice(policy, images, plan, start, end):
    """Images start..end of the epoch, augmented (uint8 [end - start, h, w]). A batch at a time keeps the tensors
    small: on a CPU, materialising a whole epoch costs more than the training steps of a small model."""
    h, w, pad = policy["height"], policy["width"], policy["pad"]
    dev = images.device
    src = images.index_select(0, plan["order"][start:end])
    if pad > 0:
        src = F.pad(src, (pad, pad, pad, pad))
    rows = plan["dy"][start:end, None] + torch.arange(h, device=dev)[None, :]
    cols = plan["dx"][start:end, None] + torch.arange(w, device=dev)[None, :]
    cols = torch.where(plan["flip"][start:end, None], cols.flip(1), cols)
    idx = torch.arange(end - start, device=dev)[:, None, None]
    out = src[idx, rows[:, :, None], cols[:, None, :]]
    if plan["degrees"] is not None:
        out = _rotate_brighten_batch(out, plan["degrees"][start:end], plan["factors"][start:end])
    return out


def _rotate_brighten_batch(imgs, degrees, factors):
    """_rotate_brighten for a batch, in float64 as it computes, so the rounding is the same."""
    n, h, w = imgs.shape
    dev = imgs.device
    a = degrees * (math.pi / 180)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64, device=dev), torch.arange(w, dtype=torch.float64, device=dev), indexing="ij")
    cos, sin = torch.cos(a)[:, None, None], torch.sin(a)[:, None, None]
    sx = cos * (xs - cx) + sin * (ys - cy) + cx
    sy = -sin * (xs - cx) + cos * (ys - cy) + cy
    x0, y0 = torch.floor(sx).long(), torch.floor(sy).long()
    fx, fy = sx - x0, sy - y0
    src = imgs.to(torch.float64)
    bi = torch.arange(n, device=dev)[:, None, None]

    def at(xx, yy):
        ok = (xx >= 0) & (xx < w) & (yy >= 0) & (yy < h)
        return torch.where(ok, src[bi, yy.clamp(0, h - 1), xx.clamp(0, w - 1)], torch.zeros((), dtype=torch.float64, device=dev))

    val = at(x0, y0) * (1 - fx) * (1 - fy) + at(x0 + 1, y0) * fx * (1 - fy) + at(x0, y0 + 1) * (1 - fx) * fy + at(x0 + 1, y0 + 1) * fx * fy
    val = torch.where((degrees != 0)[:, None, None], torch.round(val), src)
    return torch.clamp(torch.round(val * factors[:, None, None]), max=255).to(torch.uint8)


def _rotate_brighten(img, degrees, factor):
    h, w = img.shape
    a = math.radians(degrees)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    sx = math.cos(a) * (xs - cx) + math.sin(a) * (ys - cy) + cx
    sy = -math.sin(a) * (xs - cx) + math.cos(a) * (ys - cy) + cy
    x0, y0 = np.floor(sx).astype(int), np.floor(sy).astype(int)
    fx, fy = sx - x0, sy - y0
    src = img.astype(np.float64)

    def at(xx, yy):
        ok = (xx >= 0) & (xx < w) & (yy >= 0) & (yy < h)
        return np.where(ok, src[np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)], 0.0)

    v = at(x0, y0) * (1 - fx) * (1 - fy) + at(x0 + 1, y0) * fx * (1 - fy) + at(x0, y0 + 1) * (1 - fx) * fy + at(x0 + 1, y0 + 1) * fx * fy
    v = np.round(v) if degrees != 0 else src
    return np.minimum(255, np.round(v * factor)).astype(np.uint8)


def normalize(images, policy):
    x = torch.from_numpy(np.ascontiguousarray(images)).float().unsqueeze(1)
    return (x / 255.0 - policy["mean"]) / policy["std"]


# ---------------------------------------------------------------------------------------------------------
# Models: as stages/ml/tfjs/models.ts describes them (PyTorch counts the same trainable parameters).

DEFAULT_DROPOUT = {"mlp": 0.0, "cnn": 0.0, "resnet18": 0.3, "resnet34": 0.3}


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout, momentum=0.1, eps=1e-5)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, momentum=0.1, eps=1e-5)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


def build_model(name, dropout=None, classes=10):
    rate = DEFAULT_DROPOUT[name] if dropout is None else dropout
    drop = [nn.Dropout(rate)] if rate > 0 else []
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), *drop, nn.Linear(128, classes))
    if name == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(7 * 7 * 64, 128), nn.ReLU(), *drop, nn.Linear(128, classes),
        )
    if name in ("resnet18", "resnet34"):
        blocks = [2, 2, 2, 2] if name == "resnet18" else [3, 4, 6, 3]
        layers = [nn.Conv2d(1, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()]
        cin = 64
        for stage, (cout, n) in enumerate(zip([64, 128, 256, 512], blocks)):
            for b in range(n):
                layers.append(BasicBlock(cin, cout, 2 if stage > 0 and b == 0 else 1))
                cin = cout
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), *drop, nn.Linear(512, classes)]
        return nn.Sequential(*layers)
    raise ValueError(f"unknown model {name}")


def trainable_params(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def learning_rate(p, step, steps_per_epoch):
    """As learningRate() in training.ts: linear warm-up, then cosine annealing to 0 (or constant)."""
    total = (p.get("schedule_epochs") or p["epochs"]) * steps_per_epoch
    warm = round(p.get("warmup", 0) * steps_per_epoch)
    if step < warm:
        return p["lr"] * (step + 1) / warm
    if p.get("schedule", "cosine") == "constant":
        return p["lr"]
    t = (step - warm) / max(1, total - warm)
    return p["lr"] * 0.5 * (1 + math.cos(math.pi * t))


def pick_device(wanted):
    if wanted == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device cuda was asked for, but torch sees no CUDA device")
    if wanted in ("cuda", "auto") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def probe(job):
    device = pick_device(job.get("device", "auto"))
    emit(
        type="probe",
        torch=torch.__version__,
        python=sys.version.split()[0],
        device=device.type,
        cuda=torch.version.cuda if device.type == "cuda" else None,
        gpu=torch.cuda.get_device_name(0) if device.type == "cuda" else None,
        threads=torch.get_num_threads(),
    )


@torch.no_grad()
def evaluate_set(model, x, y, device, batch=512, precision="fp32", channels_last=False):
    """Loss and accuracy of `model` on (x, y), tensors already on `device`: summed on the device, one sync at the end."""
    model.eval()
    loss = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    for s in range(0, len(y), batch):
        xb, yb = layout(x[s:s + batch], channels_last), y[s:s + batch]
        with autocast(device, precision):
            out = model(xb)
        loss += F.cross_entropy(out.float(), yb, reduction="sum").double()
        correct += (out.argmax(1) == yb).sum()
    return loss.item() / len(y), correct.item() / len(y)


def autocast(device, precision):
    """bf16 autocast where asked for (precision is resolved by the engine: auto is bf16 on CUDA, fp32 on CPU)."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return torch.autocast(device_type=device.type, enabled=False)


def compiled(model, job):
    """torch.compile(model) when the job asks for it (the engine refuses compile on a torch without it); the weights
    stay those of `model`, which is what is saved."""
    if not job.get("compile"):
        return model
    if not hasattr(torch, "compile"):
        raise RuntimeError(f"compile: true needs PyTorch 2.0 or later; this interpreter has torch {torch.__version__}")
    return torch.compile(model)


def layout(x, channels_last):
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.dim() == 4 else x


def normalize_tensor(images, policy):
    """normalize() for a uint8 tensor on any device: the same float32 operations, so the same values."""
    return (images.float().unsqueeze(1) / 255.0 - policy["mean"]) / policy["std"]


def train(job):
    """job: split (dir), policy (policy.json path), out (dir), params (the train stage's params), device,
    precision (fp32 or bf16), compile (torch.compile the model), resume (the dir of a model.pt to continue, saved
    by a training of the same recipe with schedule_epochs: it holds the optimizer and random states)."""
    p = job["params"]
    torch.manual_seed(p.get("seed", 0))
    np.random.seed(p.get("seed", 0) & M32)
    device = pick_device(job.get("device", "auto"))
    precision = job.get("precision", "fp32")
    if job.get("threads"):
        torch.set_num_threads(int(job["threads"]))
    manifest, parts = load_split(job["split"])
    policy = json.load(open(job["policy"]))
    (xtr, ytr), (xva, yva) = parts["train"], parts["val"]
    classes = len(manifest["classes"])
    model = build_model(p["model"], p.get("dropout"), classes).to(device)
    # Channels-last suits the GPU's convolution kernels; on a CPU the default layout is as fast.
    channels_last = device.type == "cuda" and p["model"] != "mlp"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    net = compiled(model, job)
    count = trainable_params(model)
    emit(type="start", model=p["model"], parameters=count, device=device.type, train=len(ytr), val=len(yva), precision=precision)
    decay = p.get("weight_decay", 0)
    # Weight decay on the kernels (conv and dense weights) only, as the tfjs engine does: L2 added to the
    # gradient for adam, decoupled (the kernels shrink by lr * decay each step) for adamw.
    kernels = [q for n, q in model.named_parameters() if q.dim() > 1]
    others = [q for n, q in model.named_parameters() if q.dim() <= 1]
    optimizer = torch.optim.AdamW if p.get("optimizer", "adam") == "adamw" else torch.optim.Adam
    opt = optimizer([{"params": kernels, "weight_decay": decay}, {"params": others, "weight_decay": 0}], lr=p["lr"])
    start = 0
    if job.get("resume"):
        saved = torch.load(os.path.join(job["resume"], "model.pt"), map_location="cpu")
        state = saved.get("train_state")
        if state is None:
            raise RuntimeError("the model to continue kept no training state (only a training with schedule_epochs keeps it)")
        model.load_state_dict(saved["state_dict"])
        opt.load_state_dict(state["optimizer"])
        start = state["epoch"]
        torch.set_rng_state(state["rng"])
        if device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"])
    # The data lives on the device for the whole stage (60,000 x 784 bytes): uploaded once, augmented there.
    images = torch.from_numpy(xtr).to(device)
    labels = torch.from_numpy(ytr.astype(np.int64)).to(device)
    xval = normalize_tensor(torch.from_numpy(xva).to(device), policy)
    yval = torch.from_numpy(yva.astype(np.int64)).to(device)
    batch = p["batch_size"]
    steps_per_epoch = math.ceil(len(ytr) / batch)
    log_every = max(1, steps_per_epoch // 10)
    smoothing = p.get("label_smoothing", 0)
    step = start * steps_per_epoch
    history = []
    for epoch in range(start + 1, p["epochs"] + 1):
        t0 = time.perf_counter()
        order = torch.from_numpy(epoch_order(len(ytr), Rng(p.get("seed", 0), epoch))).to(device)
        plan = epoch_plan(policy, order, epoch)
        y = labels.index_select(0, order)
        model.train()
        # Summed on the device: no host sync per step (a progress line syncs once, at most every second).
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        last_emit = t0
        lr = p["lr"]
        for b in range(steps_per_epoch):
            start, end = b * batch, min(len(ytr), (b + 1) * batch)
            xb = layout(normalize_tensor(augment_slice(policy, images, plan, start, end), policy), channels_last)
            yb = y[start:end]
            lr = learning_rate(p, step, steps_per_epoch)
            for g in opt.param_groups:
                g["lr"] = lr
            with autocast(device, precision):
                out = net(xb)
                loss = F.cross_entropy(out.float(), yb, label_smoothing=smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            n = len(yb)
            loss_sum += loss.detach().double() * n
            correct += (out.argmax(1) == yb).sum()
            step += 1
            seen = min(len(ytr), (b + 1) * batch)
            now = time.perf_counter()
            if b == steps_per_epoch - 1 or ((b + 1) % log_every == 0 and now - last_emit >= 1):
                last_emit = now
                emit(type="step", epoch=epoch, step=step, loss=loss.item(), lr=lr, seen=seen, total=len(ytr),
                     images_per_s=seen / (now - t0))
        if device.type == "cuda":
            torch.cuda.synchronize()
        train_seconds = time.perf_counter() - t0
        val_loss, val_acc = evaluate_set(net, xval, yval, device, precision=precision, channels_last=channels_last)
        rec = dict(type="epoch", epoch=epoch, step=step, train_loss=loss_sum.item() / len(ytr), train_acc=correct.item() / len(ytr),
                   val_loss=val_loss, val_acc=val_acc, lr=lr, images_per_s=len(ytr) / train_seconds,
                   seconds=time.perf_counter() - t0)
        history.append(rec)
        emit(**rec)
    out = job["out"]
    model = model.to(memory_format=torch.contiguous_format)
    saved = {"model": p["model"], "dropout": p.get("dropout"), "classes": classes, "state_dict": model.state_dict()}
    if p.get("schedule_epochs"):
        # A training with a declared horizon can be continued: it keeps what that needs.
        saved["train_state"] = {"epoch": p["epochs"], "optimizer": opt.state_dict(), "rng": torch.get_rng_state(),
                                "cuda_rng": torch.cuda.get_rng_state() if device.type == "cuda" else None}
    torch.save(saved, os.path.join(out, "model.pt"))
    emit(type="done", parameters=count, device=device.type)


def evaluate(job):
    """job: split (dir), model (dir with model.pt and policy.json), params (batch_size, timing_runs, tta), device,
    precision (fp32 or bf16), compile (torch.compile the model)."""
    p = job.get("params", {})
    device = pick_device(job.get("device", "auto"))
    precision = job.get("precision", "fp32")
    _, parts = load_split(job["split"])
    xte, yte = parts["test"]
    saved = torch.load(os.path.join(job["model"], "model.pt"), map_location="cpu")
    model = build_model(saved["model"], saved.get("dropout"), saved["classes"]).to(device)
    model.load_state_dict(saved["state_dict"])
    channels_last = device.type == "cuda" and saved["model"] != "mlp"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.eval()
    net = compiled(model, job)
    policy = json.load(open(os.path.join(job["model"], "policy.json")))
    x = normalize_tensor(torch.from_numpy(xte).to(device), policy)
    y = torch.from_numpy(yte.astype(np.int64)).to(device)
    tta = p.get("tta", "none") == "flip"
    batch = p.get("batch_size", 256)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    @torch.no_grad()
    def scores(xb):
        xb = layout(xb, channels_last)
        with autocast(device, precision):
            logits = net(xb).float()
            if not tta:
                return logits, logits
            prob = (F.softmax(logits, 1) + F.softmax(net(torch.flip(xb, dims=[3])).float(), 1)) / 2
        return torch.log(prob), logits

    # Summed on the device; each full batch timed on its own (synchronised), the first (warm-up) left out.
    preds, batch_times = [], []
    plain_correct = torch.zeros((), dtype=torch.int64, device=device)
    loss = torch.zeros((), dtype=torch.float64, device=device)
    for s in range(0, len(y), batch):
        xb, yb = x[s:s + batch], y[s:s + batch]
        sync()
        t0 = time.perf_counter()
        sc, plain = scores(xb)
        pred = sc.argmax(1)
        sync()
        if len(yb) == batch and s > 0:
            batch_times.append((time.perf_counter() - t0) * 1000 / len(yb))
        preds.append(pred)
        plain_correct += (plain.argmax(1) == yb).sum()
        loss += F.nll_loss(F.log_softmax(sc, 1), yb, reduction="sum").double()
    # One image at a time, after a few warm-up calls, on the device the model runs on.
    for i in range(5):
        scores(x[i:i + 1])[0].cpu()
    single = []
    for i in range(p.get("timing_runs", 50)):
        xb = x[i % len(y): i % len(y) + 1]
        sync()
        t0 = time.perf_counter()
        scores(xb)[0].cpu()
        single.append((time.perf_counter() - t0) * 1000)
    # The predicted class of every test image; the caller derives the confusion matrix and the rest from it.
    predictions = torch.cat(preds).cpu().numpy().astype(np.uint8)
    predictions.tofile(os.path.join(job["out"], "predictions.u8"))
    emit(
        type="done",
        correct=int((predictions == yte).sum()),
        count=len(yte),
        loss=loss.item() / len(yte),
        plain_correct=int(plain_correct.item()),
        parameters=trainable_params(model),
        ms_per_image_batch=float(np.median(batch_times)) if batch_times else None,
        ms_per_image_single=float(np.median(single)),
        device=device.type,
    )


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "-"
    job = json.load(sys.stdin if path == "-" else open(path))
    try:
        {"probe": probe, "train": train, "evaluate": evaluate}[job["task"]](job)
    except Exception as e:  # reported as an event; the caller fails the stage
        import traceback

        traceback.print_exc(file=sys.stderr)
        emit(type="error", message=f"{type(e).__name__}: {e}")
        sys.exit(1)


if __name__ == "__main__":
    main()
