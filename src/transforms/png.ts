/**
 * PNG recognition without decoding: the 8-byte signature and the IHDR chunk that must follow it
 * (PNG spec §5.2, §11.2.2). Reading the dimensions here lets an image bomb be refused before
 * libvips allocates anything for it.
 */

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** base64 of the signature plus the first IHDR length byte (always 0): every PNG starts so. */
export const PNG_BASE64_PREFIX = 'iVBORw0KGgo';

export function hasPngSignature(buf: Buffer): boolean {
  return buf.length >= 8 && buf.subarray(0, 8).equals(PNG_SIGNATURE);
}

export interface PngSize {
  width: number;
  height: number;
}

/** Width and height from the IHDR chunk, or undefined when the bytes are not a plausible PNG. */
export function readPngSize(buf: Buffer): PngSize | undefined {
  // signature(8) + length(4) + "IHDR"(4) + width(4) + height(4)
  if (buf.length < 24 || !hasPngSignature(buf)) return undefined;
  if (buf.readUInt32BE(8) !== 13 || buf.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  const width = buf.readUInt32BE(16);
  const height = buf.readUInt32BE(20);
  if (width === 0 || height === 0) return undefined;
  return { width, height };
}

const PNG_BASE64_PREFIX_BYTES = Buffer.from(PNG_BASE64_PREFIX, 'latin1');

/**
 * Cheap first test that base64 text (as bytes) may be a PNG: the fixed prefix rejects almost every
 * other string after one comparison. The alphabet is checked by decoding (base64.ts), and the
 * decoded bytes are still checked for the signature and IHDR.
 */
export function startsLikeBase64Png(text: Buffer): boolean {
  return text.length >= 32 && text.subarray(0, PNG_BASE64_PREFIX_BYTES.length).equals(PNG_BASE64_PREFIX_BYTES);
}
