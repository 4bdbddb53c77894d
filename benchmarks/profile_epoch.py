"""Where one training epoch's time goes: torch.profiler over CE steps of the small CNN on
Fashion-MNIST (run by hand).

    .venv/bin/python benchmarks/profile_epoch.py [--threads 2] [--steps 60] [--channels 32 64 128]

Runs ``--steps`` training steps (after 5 untimed ones) at batch ``--batch-size`` through the
pipeline's own loop pieces (weak augmentation, forward, backward, SGD step) and writes the operator
table, sorted by self CPU time, to ``benchmarks/results/profile_fashion_ce_<channels>.txt``, with the
measured images per second and the multiply-adds per image, so the achieved FLOP rate can be read
against the machine's.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from noisyprune.data import load_dataset
from noisyprune.models import build_model
from noisyprune.training.augment import AugmentationSpec, Augmenter

REPO = Path(__file__).resolve().parents[1]
FASHION = REPO.parent / "shared" / "data" / "fashion-mnist"


def conv_macs(model: torch.nn.Module, input_shape) -> int:
    """Multiply-adds of one forward pass of ``model`` on one input (convolutions and linears)."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            total += (
                output.numel() * module.in_channels * module.kernel_size[0] * module.kernel_size[1] // module.groups
            )
        elif isinstance(module, torch.nn.Linear):
            total += module.in_features * module.out_features

    hooks = [m.register_forward_hook(count) for m in model.modules()]
    with torch.no_grad():
        model.eval()(torch.zeros(1, *input_shape))
    for hook in hooks:
        hook.remove()
    model.train()
    return total


def matmul_gflops(threads: int, size: int = 2048, repeats: int = 10) -> float:
    """The machine's practical peak: the best of three timings of ``repeats`` float32 products of
    two ``size``×``size`` matrices on ``threads`` threads, in GFLOP/s."""
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = max(best, 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--channels", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--channels-last", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_dataset("fashion_mnist", {"loader": "fashion_mnist", "root": str(FASHION)})
    torch.manual_seed(0)
    model = build_model({"arch": "small_cnn", "channels": args.channels}, data.input_shape, data.num_classes)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    augment = Augmenter(AugmentationSpec(shift=2), data.pixel_mean, data.pixel_std, torch.Generator().manual_seed(1))
    x, y = torch.as_tensor(data.train_x), torch.as_tensor(data.train_y)

    def step(i):
        rows = torch.arange(i * args.batch_size, (i + 1) * args.batch_size) % len(y)
        inputs = augment.weak(x[rows])
        if args.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(inputs), y[rows]).backward()
        optimizer.step()

    for i in range(5):
        step(i)
    start = time.perf_counter()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        for i in range(args.steps):
            step(i)
    seconds = time.perf_counter() - start
    images_per_second = args.steps * args.batch_size / seconds
    macs = conv_macs(model, data.input_shape)
    # training ≈ 3 forward passes of multiply-adds (forward, input gradients, weight gradients)
    gflops = images_per_second * 3 * 2 * macs / 1e9
    peak = matmul_gflops(args.threads)
    epoch_tflop = 60000 * 3 * 2 * macs / 1e12
    header = (
        f"small_cnn {args.channels}, batch {args.batch_size}, {args.threads} threads, "
        f"channels_last={args.channels_last}, torch {torch.__version__}\n"
        f"{images_per_second:.0f} images/s under the profiler (60,000-image epoch ≈ "
        f"{60000 / images_per_second:.1f} s); {macs / 1e6:.2f} M multiply-adds per image forward; "
        f"≈ {gflops:.1f} GFLOP/s achieved\n"
        f"machine: 2048³ float32 matrix products at {peak:.1f} GFLOP/s on {args.threads} threads, so an "
        f"epoch ({epoch_tflop:.2f} TFLOP) takes ≥ {epoch_tflop * 1e3 / peak:.1f} s at that rate\n\n"
    )
    table = profile.key_averages().table(sort_by="self_cpu_time_total", row_limit=25)
    name = "_".join(map(str, args.channels)) + ("_cl" if args.channels_last else "")
    output = REPO / "benchmarks" / "results" / f"profile_fashion_ce_{name}.txt"
    output.write_text(header + table)
    print(header + table)


if __name__ == "__main__":
    main()
