import type { ProviderPreset } from './types.js';

export const openai: ProviderPreset = {
  name: 'openai',
  route: `  # OpenAI (and any OpenAI-compatible API: change upstream).
  #   https://RELAY/openai/v1/chat/completions -> https://api.openai.com/v1/chat/completions
  # Browser: new OpenAI({ baseURL: "https://RELAY/openai/v1", apiKey: PROXY_TOKEN,
  #                       dangerouslyAllowBrowser: true })  // the relay swaps the token for the key
  - name: openai
    prefix: /openai
    upstream: https://api.openai.com
    auth: [web]
    cors:
      origins: ["\${SITE_ORIGIN:-http://localhost:5173}"]
    rateLimit:
      requests: 60
      per: 1m
      by: client
    headers:
      set:
        Authorization: Bearer \${OPENAI_API_KEY}
    # Several keys instead of one (round robin, a key answered 429 rests for \`cooldown\`):
    # keys:
    #   values: [\${OPENAI_KEY_1}, \${OPENAI_KEY_2}]
    #   cooldown: 60s
    # (remove headers.set.Authorization when you use keys)
    # Keep slow streams alive behind CDNs that cut silent connections:
    # heartbeat: 15s
    # Answer repeated embeddings and model lists from a cache (docs/cache.md):
    # cache:
    #   paths: ["/v1/embeddings", "/v1/models"]
    #   methods: [GET, POST]
    #   ttl: 1h
    # Smaller images from /v1/images (b64_json PNG -> JPEG):
    # transforms:
    #   - png-to-jpeg: { quality: 90 }
`,
  env: `# OpenAI API key (https://platform.openai.com/api-keys)
OPENAI_API_KEY=sk-replace-with-your-openai-key
`,
};
