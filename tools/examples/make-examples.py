#!/usr/bin/env python3
"""Writes examples/: inputs for the shipped image-to-image models, made from held-out MNIST test digits
exactly as docs/image-to-image.md defines them (pure Python, no NumPy).

  tools/examples/make-examples.py [--mnist DIR] [--out examples]   # (re)write the images
  tools/examples/make-examples.py --check                           # the committed images are what this writes

outlines/  pix2pix-outline2digit inputs: the outlines of test digits 0..11 (grey, 64x64)
digits/    cyclegan-digits-a2b inputs: test digits 0..11 at 64x64 (grey)
ink/       cyclegan-digits-b2a inputs: test digits 500..511 drawn as ink on paper (RGB, 64x64)
Files are named test-NNNNN-D.png (N: index in t10k-images, D: its label).
"""
import argparse, gzip, math, os, struct, sys, tempfile, zlib

SIZE = 64
MASK = (1 << 64) - 1
PAPER = (235 / 255, 228 / 255, 210 / 255)
INK = (30 / 255, 40 / 255, 120 / 255)
SETS = {"outlines": range(0, 12), "digits": range(0, 12), "ink": range(500, 512)}


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        return [data[16 + i * rows * cols:16 + (i + 1) * rows * cols] for i in range(count)]
    return list(data[8:8 + count])


def resize_bilinear(img, n=28, out=SIZE):
    """docs/image-to-image.md step 1: bilinear, half-pixel centres (PyTorch align_corners=False)."""
    coords = []
    for y in range(out):
        s = max(0.0, (y + 0.5) * n / out - 0.5)
        i0 = min(int(s), n - 1)
        coords.append((i0, min(i0 + 1, n - 1), s - i0))
    res = [0.0] * (out * out)
    for y, (y0, y1, wy) in enumerate(coords):
        for x, (x0, x1, wx) in enumerate(coords):
            top = (1 - wx) * img[y0 * n + x0] + wx * img[y0 * n + x1]
            bottom = (1 - wx) * img[y1 * n + x0] + wx * img[y1 * n + x1]
            res[y * out + x] = (1 - wy) * top + wy * bottom
    return res


def neighbours(img, y, x):
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            yield img[min(max(y + dy, 0), SIZE - 1) * SIZE + min(max(x + dx, 0), SIZE - 1)]


def outline(img):
    """3x3 morphological gradient, borders replicated."""
    res = []
    for y in range(SIZE):
        for x in range(SIZE):
            n = list(neighbours(img, y, x))
            res.append(max(n) - min(n))
    return res


def mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def ink_on_paper(img, index, seed=4):
    """Domain B: binomial blur, paper/ink blend, SplitMix64 grain, clamp. Returns interleaved RGB."""
    kernel = (1, 2, 1, 2, 4, 2, 1, 2, 1)
    res = []
    for y in range(SIZE):
        for x in range(SIZE):
            w = sum(k * v for k, v in zip(kernel, neighbours(img, y, x))) / 16
            k = 1 + index * SIZE * SIZE + y * SIZE + x
            u = (mix((seed + k * 0x9E3779B97F4A7C15) & MASK) >> 11) * 2.0 ** -53
            grain = (2 * u - 1) * 0.03
            res.extend(min(max(PAPER[c] * (1 - w) + INK[c] * w + grain, 0.0), 1.0) for c in range(3))
    return res


def png(values, channels):
    """An 8-bit grey (1) or RGB (3) PNG of 64x64 values in [0, 1]; filter 0 on every row."""
    pixels = bytes(min(255, max(0, round(v * 255))) for v in values)
    row = SIZE * channels
    raw = b"".join(b"\0" + pixels[y * row:(y + 1) * row] for y in range(SIZE))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 0 if channels == 1 else 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def pixels_of(data):
    """The pixel bytes of a PNG this script wrote (IDAT inflated, filter bytes dropped), to compare across zlib versions."""
    pos, idat, width, channels = 8, b"", 0, 1
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, _, _, colour = struct.unpack(">IIBB", body[:10])
            channels = 3 if colour == 2 else 1
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, row = zlib.decompress(idat), width * channels
    if any(raw[y * (row + 1)] != 0 for y in range(len(raw) // (row + 1))):
        return None
    return b"".join(raw[y * (row + 1) + 1:(y + 1) * (row + 1)] for y in range(len(raw) // (row + 1)))


def write(mnist, out):
    images = read_idx(os.path.join(mnist, "t10k-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(mnist, "t10k-labels-idx1-ubyte.gz"))
    for folder, indices in SETS.items():
        os.makedirs(os.path.join(out, folder), exist_ok=True)
        for i in indices:
            digit = resize_bilinear([b / 255 for b in images[i]])
            data = {"outlines": lambda: png(outline(digit), 1), "digits": lambda: png(digit, 1), "ink": lambda: png(ink_on_paper(digit, i), 3)}[folder]()
            with open(os.path.join(out, folder, f"test-{i:05d}-{labels[i]}.png"), "wb") as f:
                f.write(data)


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mnist", default=os.environ.get("GAN_MNIST", "/work/shared/data/mnist"))
    parser.add_argument("--out", default=os.path.join(root, "examples"))
    parser.add_argument("--check", action="store_true", help="compare the pixels of --out with a fresh run")
    args = parser.parse_args()
    if not args.check:
        write(args.mnist, args.out)
        return 0
    if not os.path.exists(os.path.join(args.mnist, "t10k-images-idx3-ubyte.gz")):
        print(f"make-examples: no MNIST test split in {args.mnist}; skipping the check (set GAN_MNIST)")
        return 0
    with tempfile.TemporaryDirectory() as fresh:
        write(args.mnist, fresh)
        bad = []
        for folder in SETS:
            want = sorted(os.listdir(os.path.join(fresh, folder)))
            have = sorted(os.listdir(os.path.join(args.out, folder))) if os.path.isdir(os.path.join(args.out, folder)) else []
            if [f for f in have if f.endswith(".png")] != want:
                bad.append(f"{folder}/: files {have} differ from {want}")
                continue
            for name in want:
                with open(os.path.join(fresh, folder, name), "rb") as a, open(os.path.join(args.out, folder, name), "rb") as b:
                    if pixels_of(a.read()) != pixels_of(b.read()):
                        bad.append(f"{folder}/{name}: pixels differ")
        if bad:
            print("make-examples --check: examples/ is not what tools/examples/make-examples.py writes:\n  " + "\n  ".join(bad)
                  + "\nrun tools/examples/make-examples.py and commit examples/.", file=sys.stderr)
            return 1
    print(f"make-examples --check: {sum(len(r) for r in SETS.values())} example images match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
