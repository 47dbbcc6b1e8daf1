#!/usr/bin/python3
"""Generate the PyTorch reference fixture for a tiny OpenAI-architecture CLIP.

Run from anywhere with Debian's Python (it has torch + numpy):

    /usr/bin/python3 scripts/make_clip_fixture.py [--out DIR]

Default output directory: <repo>/tests/fixtures/clip_tiny/

The CLIP ViT architecture below is written to follow OpenAI's clip/model.py
(LayerNorm, QuickGELU, ResidualAttentionBlock on torch.nn.MultiheadAttention,
Transformer, VisionTransformer, CLIP with initialize_parameters), restricted to
the ViT image tower.  The only deliberate difference: LayerNorm runs in the
input dtype (OpenAI upcasts to float32, which would throw away the float64
precision of the reference).

Parameters are generated in float32 with torch.manual_seed(0), perturbed so
every gradient path (LayerNorm affine, all biases) is non-trivial, then a float64
copy of the model runs forward + backward of
    loss = cross_entropy(exp(logit_scale) * norm(img) @ norm(txt).T, labels)
The script is deterministic: two runs produce byte-identical files.
"""

import argparse
import copy
import hashlib
import json
import math
import os
import struct
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# --------------------------------------------------------------------------
# Architecture (OpenAI CLIP, ViT variant)
# --------------------------------------------------------------------------


class LayerNorm(nn.LayerNorm):
    """LayerNorm with eps 1e-5, computed in the dtype of its input."""

    def __init__(self, width, device=None):
        super().__init__(width, eps=1e-5, device=device)

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight.to(x.dtype),
                            self.bias.to(x.dtype), self.eps)


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, d_model, n_head, attn_mask=None, device=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, n_head, device=device)
        self.ln_1 = LayerNorm(d_model, device=device)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(d_model, d_model * 4, device=device)),
            ("gelu", QuickGELU()),
            ("c_proj", nn.Linear(d_model * 4, d_model, device=device)),
        ]))
        self.ln_2 = LayerNorm(d_model, device=device)
        self.attn_mask = attn_mask  # plain attribute, not a parameter/buffer

    def attention(self, x):
        mask = None
        if self.attn_mask is not None:
            mask = self.attn_mask.to(dtype=x.dtype, device=x.device)
        return self.attn(x, x, x, need_weights=False, attn_mask=mask)[0]

    def forward(self, x):  # x: [L, N, D] (sequence first, like OpenAI)
        x = x + self.attention(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class Transformer(nn.Module):
    def __init__(self, width, layers, heads, attn_mask=None, device=None):
        super().__init__()
        self.width = width
        self.layers = layers
        self.resblocks = nn.Sequential(*[
            ResidualAttentionBlock(width, heads, attn_mask, device=device)
            for _ in range(layers)])

    def forward(self, x):
        return self.resblocks(x)


class VisionTransformer(nn.Module):
    def __init__(self, input_resolution, patch_size, width, layers, heads,
                 output_dim, device=None):
        super().__init__()
        self.input_resolution = input_resolution
        self.output_dim = output_dim
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch_size,
                               stride=patch_size, bias=False, device=device)
        scale = width ** -0.5
        grid = input_resolution // patch_size
        self.class_embedding = nn.Parameter(
            scale * torch.randn(width, device=device))
        self.positional_embedding = nn.Parameter(
            scale * torch.randn(grid * grid + 1, width, device=device))
        self.ln_pre = LayerNorm(width, device=device)
        self.transformer = Transformer(width, layers, heads, device=device)
        self.ln_post = LayerNorm(width, device=device)
        self.proj = nn.Parameter(
            scale * torch.randn(width, output_dim, device=device))

    def forward(self, x):
        x = self.conv1(x)                                   # [N, w, g, g]
        x = x.reshape(x.shape[0], x.shape[1], -1)          # [N, w, g*g]
        x = x.permute(0, 2, 1)                              # [N, g*g, w]
        cls = self.class_embedding.to(x.dtype) + torch.zeros(
            x.shape[0], 1, x.shape[-1], dtype=x.dtype, device=x.device)
        x = torch.cat([cls, x], dim=1)                      # [N, g*g+1, w]
        x = x + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x)
        x = x.permute(1, 0, 2)                              # NLD -> LND
        x = self.transformer(x)
        x = x.permute(1, 0, 2)                              # LND -> NLD
        x = self.ln_post(x[:, 0, :])
        x = x @ self.proj
        return x


class CLIP(nn.Module):
    def __init__(self, embed_dim, image_resolution, vision_layers, vision_width,
                 vision_patch_size, vision_heads, context_length, vocab_size,
                 transformer_width, transformer_heads, transformer_layers,
                 device=None):
        super().__init__()
        self.context_length = context_length
        self.visual = VisionTransformer(
            input_resolution=image_resolution, patch_size=vision_patch_size,
            width=vision_width, layers=vision_layers, heads=vision_heads,
            output_dim=embed_dim, device=device)
        self.transformer = Transformer(
            width=transformer_width, layers=transformer_layers,
            heads=transformer_heads,
            attn_mask=self.build_attention_mask(device), device=device)
        self.vocab_size = vocab_size
        self.token_embedding = nn.Embedding(vocab_size, transformer_width,
                                            device=device)
        self.positional_embedding = nn.Parameter(
            torch.empty(context_length, transformer_width, device=device))
        self.ln_final = LayerNorm(transformer_width, device=device)
        self.text_projection = nn.Parameter(
            torch.empty(transformer_width, embed_dim, device=device))
        self.logit_scale = nn.Parameter(
            torch.full([], math.log(1 / 0.07), dtype=torch.float32,
                       device=device))
        self.initialize_parameters()

    def initialize_parameters(self):
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        proj_std = (self.transformer.width ** -0.5) * \
            ((2 * self.transformer.layers) ** -0.5)
        attn_std = self.transformer.width ** -0.5
        fc_std = (2 * self.transformer.width) ** -0.5
        for block in self.transformer.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=attn_std)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(block.mlp.c_fc.weight, std=fc_std)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)
        nn.init.normal_(self.text_projection,
                        std=self.transformer.width ** -0.5)

    def build_attention_mask(self, device=None):
        # additive mask: -inf strictly above the diagonal (i attends j <= i)
        mask = torch.empty(self.context_length, self.context_length,
                           device=device)
        mask.fill_(float("-inf"))
        mask.triu_(1)
        return mask

    def encode_image(self, image):
        return self.visual(image)

    def encode_text(self, text):
        dtype = self.text_projection.dtype
        x = self.token_embedding(text).to(dtype)            # [N, ctx, w]
        x = x + self.positional_embedding.to(dtype)
        x = x.permute(1, 0, 2)
        x = self.transformer(x)
        x = x.permute(1, 0, 2)
        x = self.ln_final(x).to(dtype)
        # feature at the EOT position (EOT has the largest id)
        x = x[torch.arange(x.shape[0]), text.argmax(dim=-1)] @ \
            self.text_projection
        return x

    def forward(self, image, text):
        image_features = self.encode_image(image)
        text_features = self.encode_text(text)
        img_n = image_features / image_features.norm(dim=1, keepdim=True)
        txt_n = text_features / text_features.norm(dim=1, keepdim=True)
        logits_per_image = self.logit_scale.exp() * img_n @ txt_n.t()
        return image_features, text_features, logits_per_image


# --------------------------------------------------------------------------
# Configs and parameter-count formula
# --------------------------------------------------------------------------

TINY = OrderedDict([
    ("embed_dim", 24),
    ("image_resolution", 32),
    ("vision_layers", 2),
    ("vision_width", 32),
    ("vision_patch_size", 8),
    ("vision_heads", 2),
    ("context_length", 12),
    ("vocab_size", 100),
    ("transformer_width", 32),
    ("transformer_heads", 2),
    ("transformer_layers", 2),
])
TINY_EXTRA = OrderedDict([
    ("mlp_ratio", 4),
    ("layer_norm_eps", 1e-5),
    ("activation", "quick_gelu"),
    ("sot_token", 98),
    ("eot_token", 99),
    ("vision_tokens", 17),
    ("batch_images", 4),
    ("num_classes", 5),
])

VIT_B16 = OrderedDict([
    ("embed_dim", 512),
    ("image_resolution", 224),
    ("vision_layers", 12),
    ("vision_width", 768),
    ("vision_patch_size", 16),
    ("vision_heads", 12),
    ("context_length", 77),
    ("vocab_size", 49408),
    ("transformer_width", 512),
    ("transformer_heads", 8),
    ("transformer_layers", 12),
])


def param_count_formula(c):
    """Closed form for the parameter count of the ViT CLIP above (MLP ratio 4).

    One residual block of width w:
      ln_1 2w + in_proj (3w*w + 3w) + out_proj (w*w + w) + ln_2 2w
      + c_fc (4w*w + 4w) + c_proj (4w*w + w)            = 12 w^2 + 13 w
    """
    def block(w):
        return 12 * w * w + 13 * w

    vw, p, E = c["vision_width"], c["vision_patch_size"], c["embed_dim"]
    grid = c["image_resolution"] // p
    vision = (3 * p * p * vw                 # conv1 (no bias)
              + vw                           # class_embedding
              + (grid * grid + 1) * vw       # positional_embedding
              + 2 * vw                       # ln_pre
              + c["vision_layers"] * block(vw)
              + 2 * vw                       # ln_post
              + vw * E)                      # proj
    tw = c["transformer_width"]
    text = (c["vocab_size"] * tw             # token_embedding
            + c["context_length"] * tw       # positional_embedding
            + c["transformer_layers"] * block(tw)
            + 2 * tw                         # ln_final
            + tw * E)                        # text_projection
    return vision + text + 1                 # + logit_scale


# --------------------------------------------------------------------------
# Independent hand-written forward (no nn.MultiheadAttention, no conv2d) used
# only as a cross-check of the conventions the C++ code has to follow:
# in_proj rows are [q; k; v], q scaled by head_dim^-1/2, patches flattened in
# (channel, row, col) order.
# --------------------------------------------------------------------------


def _manual_ln(x, P, pre):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + 1e-5) * P[pre + "weight"] + P[pre + "bias"]


def _manual_block(x, P, pre, heads, mask):
    # x: [N, L, w]
    N, L, w = x.shape
    hd = w // heads
    h = _manual_ln(x, P, pre + "ln_1.")
    Wi, bi = P[pre + "attn.in_proj_weight"], P[pre + "attn.in_proj_bias"]
    q = h @ Wi[0:w].T + bi[0:w]
    k = h @ Wi[w:2 * w].T + bi[w:2 * w]
    v = h @ Wi[2 * w:3 * w].T + bi[2 * w:3 * w]
    q = q.reshape(N, L, heads, hd).transpose(1, 2) * hd ** -0.5
    k = k.reshape(N, L, heads, hd).transpose(1, 2)
    v = v.reshape(N, L, heads, hd).transpose(1, 2)
    s = q @ k.transpose(-1, -2)
    if mask is not None:
        s = s.masked_fill(mask, float("-inf"))
    a = torch.softmax(s, dim=-1) @ v                 # [N, heads, L, hd]
    a = a.transpose(1, 2).reshape(N, L, w)
    x = x + a @ P[pre + "attn.out_proj.weight"].T + P[pre + "attn.out_proj.bias"]
    h = _manual_ln(x, P, pre + "ln_2.")
    h = h @ P[pre + "mlp.c_fc.weight"].T + P[pre + "mlp.c_fc.bias"]
    h = h * torch.sigmoid(1.702 * h)
    h = h @ P[pre + "mlp.c_proj.weight"].T + P[pre + "mlp.c_proj.bias"]
    return x + h


def manual_forward(P, cfg, images, tokens):
    p = cfg["vision_patch_size"]
    vw = cfg["vision_width"]
    N, C, H, W = images.shape
    g = H // p
    # [N, C, g, p, g, p] -> [N, g(row), g(col), C, p, p] -> [N, g*g, C*p*p]
    patches = images.reshape(N, C, g, p, g, p).permute(0, 2, 4, 1, 3, 5)
    patches = patches.reshape(N, g * g, C * p * p)
    x = patches @ P["visual.conv1.weight"].reshape(vw, -1).T
    cls = P["visual.class_embedding"].expand(N, 1, vw)
    x = torch.cat([cls, x], dim=1) + P["visual.positional_embedding"]
    x = _manual_ln(x, P, "visual.ln_pre.")
    for i in range(cfg["vision_layers"]):
        x = _manual_block(x, P, "visual.transformer.resblocks.%d." % i,
                          cfg["vision_heads"], None)
    img = _manual_ln(x[:, 0], P, "visual.ln_post.") @ P["visual.proj"]

    T, L = tokens.shape
    x = P["token_embedding.weight"][tokens] + P["positional_embedding"]
    causal = torch.ones(L, L, dtype=torch.bool).triu(1)
    for i in range(cfg["transformer_layers"]):
        x = _manual_block(x, P, "transformer.resblocks.%d." % i,
                          cfg["transformer_heads"], causal)
    x = _manual_ln(x, P, "ln_final.")
    txt = x[torch.arange(T), tokens.argmax(-1)] @ P["text_projection"]

    img_n = img / img.norm(dim=1, keepdim=True)
    txt_n = txt / txt.norm(dim=1, keepdim=True)
    return img, txt, P["logit_scale"].exp() * img_n @ txt_n.T


# --------------------------------------------------------------------------
# Output helpers
# --------------------------------------------------------------------------


def save_npy(path, array, dtype):
    a = np.array(array, dtype=np.dtype(dtype).newbyteorder("<"), order="C", copy=True)
    np.save(path, a, allow_pickle=False)


def write_safetensors(path, named_f32):
    """Hand-written safetensors writer (F32 tensors, contiguous data)."""
    header = OrderedDict()
    chunks = []
    offset = 0
    for name, arr in named_f32:
        a = np.array(arr, dtype="<f4", order="C", copy=True)  # keeps 0-dim (ascontiguousarray would not)
        raw = a.tobytes(order="C")
        header[name] = OrderedDict([
            ("dtype", "F32"),
            ("shape", list(a.shape)),
            ("data_offsets", [offset, offset + len(raw)]),
        ])
        chunks.append(raw)
        offset += len(raw)
    header["__metadata__"] = OrderedDict([("format", "pt")])
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((-len(hjson)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for raw in chunks:
            f.write(raw)


def read_safetensors(path):
    """Minimal reader used to verify what write_safetensors produced."""
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", None)
    buf = data[8 + n:]
    spans = sorted(v["data_offsets"] for v in header.values())
    pos = 0
    for b, e in spans:
        assert b == pos, "safetensors offsets not contiguous"
        pos = e
    assert pos == len(buf), "safetensors trailing bytes"
    out = OrderedDict()
    for k, v in header.items():
        assert v["dtype"] == "F32"
        b, e = v["data_offsets"]
        a = np.frombuffer(buf[b:e], dtype="<f4")
        assert a.size == int(np.prod(v["shape"], dtype=np.int64))
        out[k] = a.reshape(v["shape"])
    return meta, out


def make_tokens(cfg, gen):
    ctx = cfg["context_length"]
    sot, eot = TINY_EXTRA["sot_token"], TINY_EXTRA["eot_token"]
    eot_positions = [2, 5, 7, 9, 11]
    rows = []
    for pos in eot_positions:
        row = torch.zeros(ctx, dtype=torch.int64)
        row[0] = sot
        if pos > 1:
            row[1:pos] = torch.randint(1, sot, (pos - 1,), generator=gen)
        row[pos] = eot
        rows.append(row)
    return torch.stack(rows), eot_positions


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    repo = Path(__file__).resolve().parent.parent
    ap.add_argument("--out", default=str(repo / "tests" / "fixtures" / "clip_tiny"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    torch.set_num_threads(1)           # determinism and modest CPU use
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(0)

    # ---- ViT-B/16 parameter count, built on the meta device (no data) ----
    b16 = CLIP(**VIT_B16, device="meta")
    n_b16 = sum(p.numel() for p in b16.parameters())
    n_b16_tensors = len(list(b16.parameters()))
    print("ViT-B/16 parameter count (meta device): %d in %d tensors"
          % (n_b16, n_b16_tensors))
    assert n_b16 == 149_620_737, n_b16
    assert param_count_formula(VIT_B16) == 149_620_737
    assert n_b16_tensors == 302, n_b16_tensors
    del b16

    # ---- tiny model, float32 parameters ----
    torch.manual_seed(0)
    model = CLIP(**TINY)
    gen = torch.Generator().manual_seed(1)   # perturbation + inputs
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.LayerNorm):
                mod.weight.copy_(1.0 + 0.1 * torch.randn(mod.weight.shape, generator=gen))
                mod.bias.copy_(0.1 * torch.randn(mod.bias.shape, generator=gen))
            elif isinstance(mod, nn.MultiheadAttention):
                mod.in_proj_bias.copy_(0.1 * torch.randn(mod.in_proj_bias.shape, generator=gen))
            elif isinstance(mod, nn.Linear):   # out_proj, c_fc, c_proj
                mod.bias.copy_(0.1 * torch.randn(mod.bias.shape, generator=gen))
        model.logit_scale.fill_(math.log(1 / 0.07))

    names = [n for n, _ in model.named_parameters()]
    params32 = OrderedDict((n, p.detach().clone()) for n, p in model.named_parameters())
    for n, p in params32.items():
        assert p.dtype == torch.float32, n
    n_params = sum(p.numel() for p in params32.values())
    expected = param_count_formula(TINY)
    print("tiny parameter count: %d (formula %d) in %d tensors"
          % (n_params, expected, len(names)))
    assert n_params == expected

    # ---- inputs ----
    images32 = torch.randn(4, 3, 32, 32, generator=gen, dtype=torch.float32)
    tokens, eot_positions = make_tokens(TINY, gen)
    labels = torch.tensor([1, 3, 3, 0], dtype=torch.int64)
    assert torch.equal(tokens.argmax(-1), torch.tensor(eot_positions))

    # ---- float64 forward/backward ----
    model64 = copy.deepcopy(model).double()
    model64.zero_grad(set_to_none=True)
    img_f, txt_f, logits = model64(images32.double(), tokens)
    loss = F.cross_entropy(logits, labels, reduction="mean")
    loss.backward()
    grads = OrderedDict((n, p.grad.detach().clone())
                        for n, p in model64.named_parameters())
    for n in names:
        assert grads[n] is not None and grads[n].dtype == torch.float64, n
    print("loss = %.17g" % loss.item())
    print("logits =\n%s" % np.array2string(logits.detach().numpy(), precision=10))

    # ---- cross-check against the hand-written forward ----
    with torch.no_grad():
        P = OrderedDict((n, p.double()) for n, p in params32.items())
        mi, mt, ml = manual_forward(P, TINY, images32.double(), tokens)
        for what, a, b in (("image_features", mi, img_f), ("text_features", mt, txt_f),
                           ("logits", ml, logits)):
            d = (a - b.detach()).abs().max().item()
            print("manual vs nn forward, max |diff| %-15s %.3e" % (what, d))
            assert d < 1e-12, (what, d)

    # ---- finite-difference check of the gradient along a random direction ----
    with torch.no_grad():
        dgen = torch.Generator().manual_seed(2)
        dirs = OrderedDict((n, torch.randn(p.shape, generator=dgen, dtype=torch.float64))
                           for n, p in params32.items())
        dnorm = math.sqrt(sum((d * d).sum().item() for d in dirs.values()))
        dirs = OrderedDict((n, d / dnorm) for n, d in dirs.items())   # unit direction

        def loss_at(t):
            Q = OrderedDict((n, params32[n].double() + t * dirs[n]) for n in names)
            _, _, lg = manual_forward(Q, TINY, images32.double(), tokens)
            return F.cross_entropy(lg, labels).item()

        h = 1e-4   # 4th-order central difference
        fd = (8 * (loss_at(h) - loss_at(-h)) - (loss_at(2 * h) - loss_at(-2 * h))) / (12 * h)
        an = sum((grads[n] * dirs[n]).sum().item() for n in names)
        rel = abs(fd - an) / max(abs(an), 1e-300)
        print("directional derivative: autograd %.12e, central difference %.12e, rel diff %.2e"
              % (an, fd, rel))
        assert rel < 1e-7, rel

    # ---- gradient report ----
    print("max |grad| per tensor:")
    zero = []
    for n in names:
        g = grads[n].abs().max().item()
        flag = ""
        if g == 0.0:
            flag = "   <-- WARNING: identically zero"
            zero.append(n)
        print("  %-52s %-14s %.6e%s" % (n, list(grads[n].shape), g, flag))
    if zero:
        print("WARNING: %d tensors have an identically zero gradient: %s"
              % (len(zero), ", ".join(zero)))

    # ---- write files ----
    for old in out.glob("*.npy"):
        old.unlink()
    for n in names:
        save_npy(out / ("param.%s.npy" % n), params32[n].numpy(), "<f4")
        save_npy(out / ("grad.%s.npy" % n), grads[n].numpy(), "<f8")
    save_npy(out / "input.images.npy", images32.numpy(), "<f4")
    save_npy(out / "input.tokens.npy", tokens.numpy(), "<i4")
    save_npy(out / "input.labels.npy", labels.numpy(), "<i4")
    save_npy(out / "output.image_features.npy", img_f.detach().numpy(), "<f8")
    save_npy(out / "output.text_features.npy", txt_f.detach().numpy(), "<f8")
    save_npy(out / "output.logits.npy", logits.detach().numpy(), "<f8")
    save_npy(out / "output.loss.npy", loss.detach().numpy(), "<f8")
    write_safetensors(out / "model.safetensors",
                      [(n, params32[n].numpy()) for n in names])

    config = OrderedDict(list(TINY.items()) + list(TINY_EXTRA.items()) + [
        ("eot_positions", eot_positions),
        ("labels", labels.tolist()),
        ("param_count", n_params),
        ("param_tensors", len(names)),
        ("param_names", names),
    ])
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    # ---- verify what was written ----
    meta, st = read_safetensors(out / "model.safetensors")
    assert meta == {"format": "pt"}
    assert list(st.keys()) == names
    for n in names:
        assert np.array_equal(st[n], params32[n].numpy()), n
        assert st[n].shape == tuple(params32[n].shape), n
        p = np.load(out / ("param.%s.npy" % n))
        g = np.load(out / ("grad.%s.npy" % n))
        assert p.dtype == np.dtype("<f4") and g.dtype == np.dtype("<f8"), n
        assert p.shape == g.shape == tuple(params32[n].shape), n
        assert np.array_equal(p, params32[n].numpy()), n
        assert np.array_equal(g, grads[n].numpy()), n
    expect_shapes = {
        "input.images": ((4, 3, 32, 32), "<f4"), "input.tokens": ((5, 12), "<i4"),
        "input.labels": ((4,), "<i4"), "output.image_features": ((4, 24), "<f8"),
        "output.text_features": ((5, 24), "<f8"), "output.logits": ((4, 5), "<f8"),
        "output.loss": ((), "<f8"),
    }
    for stem, (shape, dt) in expect_shapes.items():
        a = np.load(out / (stem + ".npy"))
        assert a.shape == shape and a.dtype == np.dtype(dt), (stem, a.shape, a.dtype)

    write_readme(out, names, n_params)

    total = 0
    print("files written to %s:" % out)
    for f in sorted(out.iterdir()):
        sz = f.stat().st_size
        total += sz
        h = hashlib.sha256(f.read_bytes()).hexdigest()[:16]
        print("  %-58s %8d  %s" % (f.name, sz, h))
    print("total %d bytes in %d files" % (total, len(list(out.iterdir()))))


def write_readme(out, names, n_params):
    sizes = []
    total = 0
    for f in sorted(out.iterdir()):
        if f.name == "README.md":
            continue
        sizes.append((f.name, f.stat().st_size))
        total += f.stat().st_size
    param_bytes = sum(s for n, s in sizes if n.startswith("param."))
    grad_bytes = sum(s for n, s in sizes if n.startswith("grad."))
    lines = [
        "# clip_tiny: PyTorch reference fixture for a tiny OpenAI-architecture CLIP",
        "",
        "Generated by `scripts/make_clip_fixture.py` (do not edit by hand). Regenerate",
        "from the repository root with Debian's Python, which has torch and numpy:",
        "",
        "    /usr/bin/python3 scripts/make_clip_fixture.py",
        "",
        "The output is deterministic (byte-identical on every run with the same",
        "torch/numpy; generated with torch %s, numpy %s)."
        % (torch.__version__, np.__version__),
        "",
        "## Model",
        "",
        "OpenAI CLIP ViT architecture (`clip/model.py`), see `config.json`: image 32,",
        "patch 8 (16 patches + class token = 17 tokens), vision width 32 / 2 layers /",
        "2 heads; embed dim 24; context 12, vocab 100 (SOT 98, EOT 99 = largest id),",
        "text width 32 / 2 layers / 2 heads; MLP ratio 4, QuickGELU, LayerNorm eps",
        "1e-5, causal text mask, text feature taken at argmax(token id).",
        "%d parameters in %d tensors." % (n_params, len(names)),
        "",
        "Parameters: `torch.manual_seed(0)` + OpenAI's `initialize_parameters`, then",
        "perturbed (every LayerNorm weight = 1 + 0.1·N(0,1); every LayerNorm bias,",
        "`in_proj_bias` and Linear bias = 0.1·N(0,1)) so that no gradient path is",
        "trivial; logit_scale = ln(1/0.07). Parameters are float32 values; the",
        "forward and backward were computed on a float64 copy of the model.",
        "",
        "Loss = mean over the batch of cross_entropy(logits_per_image [4,5], labels),",
        "logits_per_image = exp(logit_scale) · normalize(img) · normalize(txt)ᵀ.",
        "",
        "## Files (numpy .npy, little-endian, C order)",
        "",
        "| file | dtype | shape | meaning |",
        "|---|---|---|---|",
        "| `param.<name>.npy` | float32 | per tensor | parameter, OpenAI name |",
        "| `grad.<name>.npy` | float64 | per tensor | d loss / d parameter |",
        "| `input.images.npy` | float32 | [4,3,32,32] | images (standard normal values) |",
        "| `input.tokens.npy` | int32 | [5,12] | class prompts: 98, ids in 1..97, 99, zeros; EOT at 2,5,7,9,11 |",
        "| `input.labels.npy` | int32 | [4] | labels [1,3,3,0] |",
        "| `output.image_features.npy` | float64 | [4,24] | image features after `visual.proj`, unnormalised |",
        "| `output.text_features.npy` | float64 | [5,24] | text features after `text_projection`, unnormalised |",
        "| `output.logits.npy` | float64 | [4,5] | logits_per_image |",
        "| `output.loss.npy` | float64 | [] | mean cross-entropy loss |",
        "| `model.safetensors` | F32 | | the same float32 parameters, OpenAI names, in the order below |",
        "| `config.json` | | | configuration, EOT positions, labels, parameter names |",
        "",
        "Parameter tensors (OpenAI names, `named_parameters()` order):",
        "",
    ]
    lines += ["- `%s`" % n for n in names]
    lines += [
        "",
        "## Sizes (bytes)",
        "",
        "param.*.npy: %d, grad.*.npy: %d, everything except this README: %d."
        % (param_bytes, grad_bytes, total),
        "",
        "Each `param.<name>.npy` is 128 bytes of header + 4·numel, each",
        "`grad.<name>.npy` 128 + 8·numel (larger headers only for long shapes).",
        "",
        "| file | bytes |",
        "|---|---|",
    ]
    lines += ["| `%s` | %d |" % (n, s) for n, s in sizes
              if not n.startswith(("param.", "grad."))]
    lines += ["| `param.*.npy` (%d files) | %d |" % (len(names), param_bytes),
              "| `grad.*.npy` (%d files) | %d |" % (len(names), grad_bytes)]
    lines.append("")
    (out / "README.md").write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
