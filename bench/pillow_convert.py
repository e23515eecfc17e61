"""The Python-proxy baseline for the PNG->JPEG scenario: what a Flask/Pillow relay does per
image, on the same JSON body the relay converts. Steps: JSON parse, base64 decode, PNG decode,
flatten alpha onto white, JPEG q95, base64 encode, JSON serialise. CPU time per image comes from
time.process_time() (robust to steal on a shared VM). Prints one JSON line.
Usage: python3 pillow_convert.py IMAGE_JSON ITERATIONS
"""
import base64
import io
import json
import sys
import time

import PIL
from PIL import Image


def convert(raw: bytes) -> bytes:
    doc = json.loads(raw)
    for item in doc["data"]:
        img = Image.open(io.BytesIO(base64.b64decode(item["b64_json"])))
        img.load()
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        out = io.BytesIO()
        flat.save(out, format="JPEG", quality=95)
        item["b64_json"] = base64.b64encode(out.getvalue()).decode("ascii")
        item["output_format"] = "jpeg"
    return json.dumps(doc).encode("utf-8")


def main() -> None:
    path, iterations = sys.argv[1], int(sys.argv[2])
    with open(path, "rb") as f:
        raw = f.read()
    convert(raw)  # warm-up (imports, codec init)
    cpu, wall = [], []
    size = 0
    for _ in range(iterations):
        c0, w0 = time.process_time(), time.perf_counter()
        size = len(convert(raw))
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
    cpu.sort()
    wall.sort()
    print(json.dumps({
        "pillow": PIL.__version__,
        "python": sys.version.split()[0],
        "iterations": iterations,
        "cpu_ms_per_image": cpu[len(cpu) // 2],
        "wall_ms_per_image": wall[len(wall) // 2],
        "out_json_bytes": size,
    }))


if __name__ == "__main__":
    main()
