/**
 * `.env` loading and `${VAR}` / `${VAR:-default}` interpolation.
 * Real environment variables win over the .env file (spec §2), so a systemd EnvironmentFile or a
 * CI secret always beats a stale file left in the working directory.
 */
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

export type Env = Record<string, string | undefined>;

/** Returns process env merged over the .env file; a missing default `.env` is not an error. */
export function loadEnv(envFile: string | undefined, base: Env = process.env, required = false): Env {
  if (!envFile) return { ...base };
  let text: string;
  try {
    text = readFileSync(envFile, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return { ...base };
    throw new Error(`cannot read env file ${envFile}: ${(err as Error).message}`);
  }
  const fromFile = parseEnv(text) as Record<string, string>;
  return { ...fromFile, ...definedOnly(base) };
}

function definedOnly(env: Env): Env {
  const out: Env = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

const VAR_RE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export interface Interpolated {
  value: string;
  /** Variables referenced and not set (and with no default). */
  missing: string[];
  /** Values substituted from variables (candidates for redaction). */
  substituted: string[];
}

/**
 * `$${X}` escapes to a literal `${X}`. An empty variable counts as NOT set: a copied
 * `.env.example` with `OPENAI_API_KEY=` must disable the route (503), not send `Bearer ` upstream.
 */
export function interpolate(input: string, env: Env): Interpolated {
  const missing: string[] = [];
  const substituted: string[] = [];
  if (!input.includes('${')) return { value: input, missing, substituted };
  const value = input.replace(VAR_RE, (whole, name: string | undefined, def: string | undefined) => {
    if (whole === '$${') return '${';
    const v = env[name!];
    if (v !== undefined && v !== '') {
      substituted.push(v);
      return v;
    }
    if (def !== undefined) return def;
    missing.push(name!);
    return '';
  });
  return { value, missing, substituted };
}
