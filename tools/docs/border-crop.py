#!/usr/bin/env python3
"""A crop of a grey-background image of a text-to-image samples.png, zoomed 4x (issue 16: "a crop at 4x zoom of a
grey background before and after").

  tools/docs/border-crop.py OUT.png SHEET.png [SHEET.png ...]

Each SHEET is a pipeline samples.png as `export` writes it (StackGanSamples.EncodeSheet: 64x64 images drawn at 2x in
cells of 150x158 pixels, 6 columns, 4-pixel gaps). The first image whose top-left pixel is grey (each channel within
20 of 128) is taken from every sheet (the same caption and seed in sheets of the same export settings); its top-left
24x24 image pixels (the 6-pixel border and some of the inside) are written at 4x nearest-neighbour zoom, the sheets
side by side with a 16-pixel gap, into OUT. Needs numpy; PNGs are read and written with zlib (8-bit RGB or RGBA,
not interlaced).
"""
import struct, sys, zlib

import numpy as np

CELL_W, CELL_H, GAP, COLUMNS, SIZE, SHEET_SCALE = 150, 158, 4, 6, 64, 2
CROP, ZOOM = 24, 4


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{path}: not a PNG file")
    pos, chunks, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        sys.exit(f"{path}: only 8-bit RGB/RGBA non-interlaced PNGs are read (got depth {depth}, colour type {colour})")
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    out = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=y * (stride + 1) + 1).astype(np.int32)
        if kind == 0:
            row = line
        elif kind == 2:
            row = (line + previous) & 0xFF
        else:  # Sub, Average and Paeth depend on the reconstructed left neighbour: pixel by pixel
            row = np.zeros(stride, dtype=np.int32)
            for x in range(stride):
                a = row[x - channels] if x >= channels else 0
                b = previous[x]
                c = previous[x - channels] if x >= channels else 0
                if kind == 1:
                    predictor = a
                elif kind == 3:
                    predictor = (a + b) // 2
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    predictor = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                row[x] = (line[x] + predictor) & 0xFF
        out[y] = row
        previous = row
    return out.reshape(height, width, channels)[:, :, :3]


def write_png(path, image):
    height, width, _ = image.shape
    raw = b"".join(b"\x00" + image[y].astype(np.uint8).tobytes() for y in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def grey_image(sheet, path):
    rows = (sheet.shape[0] - GAP) // (CELL_H + GAP)
    for i in range(rows * COLUMNS):
        x0 = GAP + (i % COLUMNS) * (CELL_W + GAP) + (CELL_W - SIZE * SHEET_SCALE) // 2
        y0 = GAP + (i // COLUMNS) * (CELL_H + GAP)
        image = sheet[y0:y0 + SIZE * SHEET_SCALE:SHEET_SCALE, x0:x0 + SIZE * SHEET_SCALE:SHEET_SCALE]
        if np.all(np.abs(image[0, 0].astype(int) - 128) <= 20):
            return i, image
    sys.exit(f"{path}: no image with a grey top-left pixel")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    crops = []
    for path in sys.argv[2:]:
        index, image = grey_image(read_png(path), path)
        crop = image[:CROP, :CROP].repeat(ZOOM, axis=0).repeat(ZOOM, axis=1)
        crops.append(crop)
        border = image[:6].astype(int)
        print(f"{path}: image {index}, top 6 rows: mean |horizontal neighbour difference| "
              f"{np.abs(np.diff(border, axis=1)).mean():.2f} levels")
    gap = np.full((CROP * ZOOM, 16, 3), 255, dtype=np.uint8)
    parts = [crops[0]]
    for crop in crops[1:]:
        parts += [gap, crop]
    write_png(sys.argv[1], np.concatenate(parts, axis=1))


if __name__ == "__main__":
    main()
