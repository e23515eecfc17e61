/**
 * Finds the strings in a parsed JSON document that may hold a PNG, and applies replacements with
 * the sibling fixes the APIs need (Gemini `mimeType`, OpenAI `output_format`).
 *
 * Default places (spec §6): strings under `files` (FusionBrain `result.files[]`), `b64_json`
 * (OpenAI images), `inlineData.data` / `inline_data.data` (Gemini), and `data:image/png;base64,`
 * URLs anywhere. With `fields:`, only the listed paths are searched, in both forms.
 */

type Json = unknown;
type Holder = Record<string, Json> | Json[];

export interface ImageSlot {
  holder: Holder;
  key: string | number;
  value: string;
  /** `data:` URL form, or bare base64. */
  form: 'data-url' | 'base64';
  /** Objects from the root down to the holder, for `output_format`. */
  ancestors: Record<string, Json>[];
  /** Human-readable location for logs, e.g. `data[0].b64_json`. */
  path: string;
}

export const DATA_URL_PREFIX = 'data:image/png;base64,';

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isDataUrl(s: string): boolean {
  return s.length > DATA_URL_PREFIX.length && s.slice(0, DATA_URL_PREFIX.length).toLowerCase() === DATA_URL_PREFIX;
}

function keyPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return parent ? `${parent}.${key}` : key;
}

/** One step of a `fields:` path: `name`, `name[]`, `*`, `*[]` or `[]`. */
interface Step {
  key: string | undefined;
  each: boolean;
}

export type FieldPath = Step[];

/** Parses `result.files[]`, `data[].b64_json`, `candidates[].content.parts[].inlineData.data`. */
export function parseFieldPath(path: string): FieldPath {
  const steps: Step[] = [];
  for (const raw of path.split('.')) {
    const m = /^([^[\]]*)((?:\[\])*)$/.exec(raw);
    if (!m || (m[1] === '' && m[2] === '')) throw new Error(`invalid field path "${path}" (use e.g. result.files[] or data[].b64_json)`);
    if (m[1] !== '') steps.push({ key: m[1], each: false });
    for (let i = 0; i < m[2]!.length / 2; i++) steps.push({ key: undefined, each: true });
  }
  return steps;
}

/**
 * Gives the start of a string's real value: the identity, except for placeholders of strings
 * lifted out of the document (json-lift.ts), whose first bytes are read from the body.
 */
export type Peek = (value: string) => string;

const identity: Peek = (v) => v;

class Collector {
  readonly slots: ImageSlot[] = [];

  constructor(private readonly peek: Peek) {}

  private isDataUrl(value: string): boolean {
    return isDataUrl(this.peek(value));
  }

  /** A string at a place where images are expected: base64 or data URL. */
  candidate(holder: Holder, key: string | number, ancestors: Record<string, Json>[], path: string): void {
    const value = (holder as Record<string | number, Json>)[key];
    if (typeof value === 'string') {
      const form = this.isDataUrl(value) ? 'data-url' : 'base64';
      this.slots.push({ holder, key, value, form, ancestors, path });
    } else if (Array.isArray(value)) {
      // `files: [...]` or a path naming an array without `[]`: its strings are meant.
      value.forEach((_, i) => this.candidate(value, i, ancestors, keyPath(path, i)));
    }
  }

  /** Default search: the known keys, plus data URLs in any string. */
  walkDefault(value: Json, ancestors: Record<string, Json>[], path: string): void {
    if (Array.isArray(value)) {
      value.forEach((v, i) => this.visitDefault(value, i, v, ancestors, keyPath(path, i)));
    } else if (isObject(value)) {
      const chain = [...ancestors, value];
      for (const [k, v] of Object.entries(value)) {
        const p = keyPath(path, k);
        if ((k === 'files' || k === 'b64_json') && (typeof v === 'string' || Array.isArray(v))) {
          this.candidate(value, k, chain, p);
          if (Array.isArray(v)) v.forEach((el, i) => { if (typeof el !== 'string') this.walkDefault(el, chain, keyPath(p, i)); });
        } else if ((k === 'inlineData' || k === 'inline_data') && isObject(v) && typeof v.data === 'string') {
          this.candidate(v, 'data', [...chain, v], `${p}.data`);
        } else {
          this.visitDefault(value, k, v, chain, p);
        }
      }
    }
  }

  private visitDefault(holder: Holder, key: string | number, v: Json, ancestors: Record<string, Json>[], path: string): void {
    if (typeof v === 'string') {
      if (this.isDataUrl(v)) this.slots.push({ holder, key, value: v, form: 'data-url', ancestors, path });
    } else {
      this.walkDefault(v, ancestors, path);
    }
  }

  walkPath(value: Json, steps: FieldPath, i: number, holder: Holder | undefined, key: string | number | undefined, ancestors: Record<string, Json>[], path: string): void {
    if (i === steps.length) {
      if (holder !== undefined && key !== undefined) this.candidate(holder, key, ancestors, path);
      return;
    }
    const step = steps[i]!;
    if (step.each) {
      if (Array.isArray(value)) value.forEach((v, j) => this.walkPath(v, steps, i + 1, value, j, ancestors, keyPath(path, j)));
      return;
    }
    if (!isObject(value)) return;
    const chain = [...ancestors, value];
    const keys = step.key === '*' ? Object.keys(value) : [step.key!];
    for (const k of keys) {
      if (k in value) this.walkPath(value[k], steps, i + 1, value, k, chain, keyPath(path, k));
    }
  }
}

/** Every string that may be a PNG image, in document order. */
export function findImageSlots(root: Json, fields?: FieldPath[], peek: Peek = identity): ImageSlot[] {
  const c = new Collector(peek);
  if (fields) for (const steps of fields) c.walkPath(root, steps, 0, undefined, undefined, [], '');
  else if (typeof root === 'string') {
    if (isDataUrl(peek(root))) c.slots.push({ holder: [root], key: 0, value: root, form: 'data-url', ancestors: [], path: '' });
  } else c.walkDefault(root, [], '');
  return c.slots;
}

/**
 * Writes the JPEG back in the slot's form and fixes the siblings that name the format. `place`
 * may turn the final string into what is stored instead (a placeholder for spliced-in bytes).
 */
export function replaceSlot(slot: ImageSlot, jpegBase64: string, place: (value: string) => string = (v) => v): void {
  const next = slot.form === 'data-url' ? `data:image/jpeg;base64,${jpegBase64}` : jpegBase64;
  (slot.holder as Record<string | number, Json>)[slot.key] = place(next);
  if (isObject(slot.holder)) {
    for (const mk of ['mimeType', 'mime_type']) {
      const m = slot.holder[mk];
      if (typeof m === 'string' && m.toLowerCase() === 'image/png') slot.holder[mk] = 'image/jpeg';
    }
  }
  // OpenAI: `output_format` sits next to b64_json in stream events, at the top in /images responses.
  for (const obj of slot.ancestors) {
    if (obj.output_format === 'png') obj.output_format = 'jpeg';
  }
}
