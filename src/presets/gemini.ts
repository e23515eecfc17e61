import type { ProviderPreset } from './types.js';

export const gemini: ProviderPreset = {
  name: 'gemini',
  route: `  # Google Gemini.
  #   https://RELAY/gemini/v1beta/models/gemini-2.5-flash:generateContent
  #     -> https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent
  # Browser (@google/genai): new GoogleGenAI({ apiKey: "unused", httpOptions: {
  #   baseUrl: "https://RELAY/gemini", headers: { "X-Proxy-Token": PROXY_TOKEN } } })
  # The relay replaces x-goog-api-key with the real key; Gemini refuses some regions,
  # so run the relay where Gemini is served or set \`egress\` below.
  - name: gemini
    prefix: /gemini
    upstream: https://generativelanguage.googleapis.com
    auth: [web]
    cors:
      origins: ["\${SITE_ORIGIN:-http://localhost:5173}"]
    rateLimit:
      requests: 60
      per: 1m
      by: client
    headers:
      set:
        x-goog-api-key: \${GEMINI_API_KEY}
    # egress:
    #   proxy: socks5h://user:pass@proxy.example:1080
    # Gemini image models answer with inlineData PNGs; uncomment to receive JPEGs (also in SSE):
    # transforms:
    #   - png-to-jpeg: { quality: 90 }
`,
  env: `# Gemini API key (https://aistudio.google.com/apikey)
GEMINI_API_KEY=replace-with-your-gemini-key
`,
};
