"""The shapes every benchmark runs, shared by bench/run.py and bench/compare.py."""

Shape = tuple[int, int, int, int, int, bool]  # (T, B, I, H, layers, bidirectional)

SHAPES: list[Shape] = [
    (1000, 1, 32, 70, 1, False),
    (100, 32, 256, 512, 1, False),
    (50, 8, 1024, 1024, 1, False),
    (200, 16, 128, 256, 2, True),
]


def shape_name(shape: Shape) -> str:
    """ "T=1000 B=1 I=32 H=70", with " L=2 bi" for a stacked bidirectional one."""
    t, b, i, h, layers, bi = shape
    return f"T={t} B={b} I={i} H={h}" + (f" L={layers} bi" if bi else "")


# the GRU's, against torch.nn.GRU: a batched one and the walkthrough's unbatched sizes
GRU_SHAPES: list[Shape] = [
    (200, 16, 256, 256, 1, False),
    (1000, 1, 32, 70, 1, False),
]
