import type { ProviderPreset } from './types.js';

export const fusionbrain: ProviderPreset = {
  name: 'fusionbrain',
  route: `  # FusionBrain / Kandinsky image generation.
  #   https://RELAY/fusionbrain/key/api/v1/pipeline/run -> https://api-key.fusionbrain.ai/key/api/v1/pipeline/run
  # The relay adds X-Key / X-Secret; generated PNGs (result.files[]) reach the browser as JPEGs,
  # several times smaller.
  - name: fusionbrain
    prefix: /fusionbrain
    upstream: https://api-key.fusionbrain.ai
    auth: [web]
    cors:
      origins: ["\${SITE_ORIGIN:-http://localhost:5173}"]
    rateLimit:
      requests: 20
      per: 1m
      by: client
    headers:
      set:
        X-Key: Key \${FUSIONBRAIN_KEY}
        X-Secret: Secret \${FUSIONBRAIN_SECRET}
    transforms:
      - png-to-jpeg: {}
`,
  env: `# FusionBrain API key and secret (https://fusionbrain.ai/en/keys/)
FUSIONBRAIN_KEY=replace-with-your-fusionbrain-key
FUSIONBRAIN_SECRET=replace-with-your-fusionbrain-secret
`,
};
