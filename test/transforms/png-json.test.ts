import { beforeAll, describe, expect, it } from 'vitest';
import { hasPngSignature, readPngSize, startsLikeBase64Png } from '../../src/transforms/png.js';
import { findImageSlots, parseFieldPath, replaceSlot } from '../../src/transforms/json-images.js';
import { makeJpeg, makePng, pngHeaderOnly } from './helpers.js';

describe('PNG sniffing', () => {
  let png: Buffer;
  let jpeg: Buffer;
  beforeAll(async () => {
    png = await makePng(3, 5, { r: 1, g: 2, b: 3, alpha: 1 });
    jpeg = await makeJpeg(3, 5);
  });

  it('recognises the signature and reads IHDR without decoding', () => {
    expect(hasPngSignature(png)).toBe(true);
    expect(hasPngSignature(jpeg)).toBe(false);
    expect(readPngSize(png)).toEqual({ width: 3, height: 5 });
    expect(readPngSize(pngHeaderOnly(20000, 20000))).toEqual({ width: 20000, height: 20000 });
    expect(readPngSize(png.subarray(0, 20))).toBeUndefined();
    expect(readPngSize(jpeg)).toBeUndefined();
  });

  it('checks base64 text cheaply by its fixed prefix', () => {
    expect(startsLikeBase64Png(Buffer.from(png.toString('base64')))).toBe(true);
    expect(startsLikeBase64Png(Buffer.from(png.toString('base64url')))).toBe(true);
    expect(startsLikeBase64Png(Buffer.from(jpeg.toString('base64')))).toBe(false);
    expect(startsLikeBase64Png(Buffer.from('iVBORw0KGgo'))).toBe(false); // too short to be an image
  });
});

describe('JSON image slots', () => {
  const doc = () => ({
    result: { files: ['F1', 'F2'], censored: false },
    data: [{ b64_json: 'B1', revised_prompt: 'cat' }],
    output_format: 'png',
    candidates: [{ content: { parts: [{ text: 'hi' }, { inlineData: { mimeType: 'image/png', data: 'G1' } }, { inline_data: { mime_type: 'image/png', data: 'G2' } }] } }],
    deep: { note: 'data:image/png;base64,AAAA', other: 'data:image/jpeg;base64,BBBB', text: 'plain' },
  });

  it('default search: files, b64_json, inlineData.data, inline_data.data, data URLs anywhere', () => {
    const slots = findImageSlots(doc());
    expect(slots.map((s) => [s.path, s.form])).toEqual([
      ['result.files[0]', 'base64'],
      ['result.files[1]', 'base64'],
      ['data[0].b64_json', 'base64'],
      ['candidates[0].content.parts[1].inlineData.data', 'base64'],
      ['candidates[0].content.parts[2].inline_data.data', 'base64'],
      ['deep.note', 'data-url'],
    ]);
  });

  it('replacing fixes mimeType / mime_type and output_format, and keeps the data URL form', () => {
    const d = doc();
    for (const s of findImageSlots(d)) replaceSlot(s, 'JJ');
    expect(d.result.files).toEqual(['JJ', 'JJ']);
    expect(d.data[0]).toEqual({ b64_json: 'JJ', revised_prompt: 'cat' });
    expect(d.output_format).toBe('jpeg');
    expect(d.candidates[0]!.content.parts[1]).toEqual({ inlineData: { mimeType: 'image/jpeg', data: 'JJ' } });
    expect(d.candidates[0]!.content.parts[2]).toEqual({ inline_data: { mime_type: 'image/jpeg', data: 'JJ' } });
    expect(d.deep).toEqual({ note: 'data:image/jpeg;base64,JJ', other: 'data:image/jpeg;base64,BBBB', text: 'plain' });
  });

  it('fields: narrows to the given paths, and widens to new ones', () => {
    const narrow = findImageSlots(doc(), [parseFieldPath('result.files[]')]);
    expect(narrow.map((s) => s.path)).toEqual(['result.files[0]', 'result.files[1]']);
    const wide = findImageSlots({ choices: [{ message: { images: [{ url: 'X' }] } }] }, [parseFieldPath('choices[].message.images[].url')]);
    expect(wide.map((s) => s.path)).toEqual(['choices[0].message.images[0].url']);
    const star = findImageSlots(doc(), [parseFieldPath('deep.*')]);
    expect(star.map((s) => [s.path, s.form])).toEqual([
      ['deep.note', 'data-url'],
      ['deep.other', 'base64'],
      ['deep.text', 'base64'],
    ]);
    // A path naming an array without [] means its strings.
    expect(findImageSlots(doc(), [parseFieldPath('result.files')]).length).toBe(2);
    expect(() => parseFieldPath('a..b')).toThrow(/invalid field path/);
  });
});
