// Test data made on the spot: a 1024x1024 RGBA PNG (gradients, an alpha ring and ±12 noise
// per channel, so it compresses like a real generated image rather than a flat one) wrapped
// in an OpenAI-images-shaped JSON body, and a 1 MB random POST body.
import { writeFileSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { join } from 'node:path';
import sharp from 'sharp';

export async function makeImageJson(dir, size = 1024) {
  const px = Buffer.alloc(size * size * 4);
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % 25 - 12; // deterministic ±12
  const c = size / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 4;
      const r = Math.hypot(x - c, y - c) / c;
      px[i] = Math.max(0, Math.min(255, ((x * 255) / size) | 0) + rnd());
      px[i + 1] = Math.max(0, Math.min(255, ((y * 255) / size + rnd()) | 0));
      px[i + 2] = Math.max(0, Math.min(255, (((x + y) * 127) / size + rnd()) | 0));
      px[i + 3] = r > 0.9 ? 0 : r > 0.6 ? 128 : 255; // transparent corners, half-transparent ring
    }
  }
  const png = await sharp(px, { raw: { width: size, height: size, channels: 4 } }).png().toBuffer();
  const file = join(dir, 'image.json');
  writeFileSync(file, JSON.stringify({ created: 1700000000, data: [{ b64_json: png.toString('base64'), output_format: 'png' }] }));
  return { file, pngBytes: png.length, size };
}

export function makeBody(dir, bytes = 1024 * 1024) {
  const file = join(dir, 'body-1mb.bin');
  writeFileSync(file, randomFillSync(Buffer.alloc(bytes)));
  return { file, bytes };
}
