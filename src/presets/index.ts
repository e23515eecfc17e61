/**
 * Starter configs for `ai-relay init` (spec §2). Each preset is a commented proxy.config.yaml and
 * a .env.example whose example values pass `ai-relay check`, so the first run of `check` already
 * shows the route table instead of a wall of errors.
 */
import { fusionbrain } from './fusionbrain.js';
import { gemini } from './gemini.js';
import { gigachat } from './gigachat.js';
import { openai } from './openai.js';
import type { ProviderPreset } from './types.js';

export const PRESET_NAMES = ['openai', 'gemini', 'gigachat', 'fusionbrain', 'all'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

const PROVIDERS: Record<Exclude<PresetName, 'all'>, ProviderPreset> = { openai, gemini, gigachat, fusionbrain };

export interface RenderedPreset {
  config: string;
  env: string;
  /** What to do after the files are written (beyond copying .env.example). */
  steps: string[];
}

export function isPresetName(s: string): s is PresetName {
  return (PRESET_NAMES as readonly string[]).includes(s);
}

export function renderPreset(name: PresetName): RenderedPreset {
  const parts = name === 'all' ? Object.values(PROVIDERS) : [PROVIDERS[name]];
  return {
    config: configHeader(name) + parts.map((p) => p.route).join('\n'),
    env: ENV_HEADER + parts.map((p) => `\n${p.env}`).join(''),
    steps: parts.flatMap((p) => p.steps ?? []),
  };
}

function configHeader(name: PresetName): string {
  return `# ai-relay configuration, written by \`ai-relay init --preset ${name}\`.
# Validate: ai-relay check      Run: ai-relay serve      Reload after editing: kill -HUP <pid>
#
# Values may use \${VAR} or \${VAR:-default}. Variables come from the environment or from .env
# next to where you start the relay (cp .env.example .env, then fill it in); real environment
# variables win. A route whose variable is not set is disabled (it answers 503 route_disabled)
# rather than running without its key.

server:
  host: 0.0.0.0
  port: 8787
  # Behind nginx under /r/ (docs/deploy.md): every route also answers under /r.
  # basePaths: ["/", "/r"]
  # trustProxy: true            # take the client address from nginx's X-Forwarded-For
  # HTTPS without a front proxy (or run \`ai-relay gen-cert --out certs\` first):
  # tls:
  #   cert: certs/cert.pem
  #   key: certs/key.pem
  #   selfSigned: true          # generate the pair when missing
  healthPath: /health

log:
  level: info                   # LOG_LEVEL or --log-level override it
  format: auto                  # pretty on a terminal, JSON lines otherwise (journald, docker)

# Relay tokens. The browser sends one as "Authorization: Bearer <token>" or "X-Proxy-Token".
# It is not an API key: it only proves the caller may use this relay, and it never goes upstream.
clients:
  web: \${PROXY_TOKEN}

# How requests leave for the APIs: env = HTTPS_PROXY/HTTP_PROXY/NO_PROXY, none = direct, or a
# proxy URL for APIs that refuse your region: http://user:pass@host:3128, socks5h://host:1080
egress:
  proxy: env

routes:
`;
}

const ENV_HEADER = `# Copy to .env and fill in: cp .env.example .env
# Real environment variables (systemd EnvironmentFile, docker -e) win over this file.
# Never commit .env.

# The token your frontend sends to the relay (make one: openssl rand -hex 24)
PROXY_TOKEN=replace-with-a-long-random-token
# Your site, allowed by CORS (default when unset: the Vite dev server http://localhost:5173)
SITE_ORIGIN=https://my-site.example
`;
