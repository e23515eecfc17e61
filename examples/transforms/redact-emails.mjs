// Example ai-relay transform plugin (docs/transforms.md): replaces e-mail addresses in every
// string of a JSON response — or of each JSON event of a server-sent event stream — so a model
// that echoes personal data does not hand it to the browser.
//
// Config:
//   transforms:
//     - module: ./transforms/redact-emails.mjs
//       options: { replacement: "[email]" }

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;

function redact(value, replacement, seen) {
  if (typeof value === 'string') {
    return value.replace(EMAIL, () => {
      seen.count++;
      return replacement;
    });
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, replacement, seen));
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = redact(v, replacement, seen);
    return out;
  }
  return value;
}

export default {
  name: 'redact-emails',

  // Decide from status and headers alone: successful JSON or SSE responses.
  match({ status, headers }) {
    const type = (headers.get('content-type') ?? '').split(';')[0].trim();
    return status >= 200 && status < 300 && (type === 'application/json' || type === 'text/event-stream');
  },

  // body: the whole decoded body (or one SSE event's data). Return a Buffer, or { body, headers }.
  async transform(body, ctx) {
    const replacement = typeof ctx.options.replacement === 'string' ? ctx.options.replacement : '[redacted]';
    let json;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      return body; // not JSON: leave it alone
    }
    const seen = { count: 0 };
    const out = redact(json, replacement, seen);
    if (seen.count === 0) return body; // unchanged: the relay sends the original bytes
    return { body: Buffer.from(JSON.stringify(out)), headers: { 'x-redacted-emails': String(seen.count) } };
  },
};
