#!/usr/bin/env python3
"""What helper.evidence checks in Chromium's output (standard library only).

  page_check.py requests <net-log.json>
      prints the URLs the page itself asked for (Chromium's own background requests, whose
      initiator is "not an origin", are not the page's); exit 0 always.
  page_check.py pixels <screenshot.png> <r> <g> <b> [<tolerance>]
      prints how many pixels have that colour (each channel within the tolerance, default 12).
"""
import json
import struct
import sys
import zlib


def requests(path):
    with open(path) as f:
        log = json.load(f)
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    for event in log.get("events", []):
        params = event.get("params", {})
        if names.get(event["type"]) != "URL_REQUEST_START_JOB":
            continue
        if params.get("initiator") == "not an origin":
            continue
        url = params.get("url", "")
        if url and not url.startswith(("file:", "data:")):
            print(url)


def png_rows(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour = header[0], header[1], header[2], header[3]
    assert depth == 8 and colour in (2, 6), "only 8-bit RGB and RGBA"
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + predictor) & 255
        yield line, channels
        previous = line


def pixels(path, r, g, b, tolerance=12):
    count = 0
    for line, channels in png_rows(path):
        for i in range(0, len(line), channels):
            if abs(line[i] - r) <= tolerance and abs(line[i + 1] - g) <= tolerance and abs(line[i + 2] - b) <= tolerance:
                count += 1
    print(count)


if __name__ == "__main__":
    if sys.argv[1] == "requests":
        requests(sys.argv[2])
    elif sys.argv[1] == "pixels":
        pixels(sys.argv[2], *map(int, sys.argv[3:]))
    else:
        sys.exit(__doc__)
