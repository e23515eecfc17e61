import type { ProviderPreset } from './types.js';

const CA_URL = 'https://gu-st.ru/content/lending/russian_trusted_root_ca_pem.crt';

export const gigachat: ProviderPreset = {
  name: 'gigachat',
  route: `  # Sber GigaChat. The relay fetches the OAuth token itself (and refreshes it before it expires),
  # so the browser never sees the Authorization key.
  #   https://RELAY/gigachat/chat/completions -> https://gigachat.devices.sberbank.ru/api/v1/chat/completions
  # GigaChat's certificates are issued by the Russian Trusted Root CA (Mintsifry), which is not in
  # the usual trust stores. Put it next to this file once (it is added to the default roots for
  # this route only; TLS verification stays on):
  #   mkdir -p certs && curl -fsSL ${CA_URL} -o certs/russian_trusted_root_ca.pem
  # and compare its SHA-256 fingerprint with the one published on https://www.gosuslugi.ru/crt :
  #   openssl x509 -in certs/russian_trusted_root_ca.pem -noout -fingerprint -sha256
  - name: gigachat
    prefix: /gigachat
    upstream: https://gigachat.devices.sberbank.ru/api/v1
    auth: [web]
    cors:
      origins: ["\${SITE_ORIGIN:-http://localhost:5173}"]
    rateLimit:
      requests: 30
      per: 1m
      by: client
    tls:
      ca: certs/russian_trusted_root_ca.pem
    oauth:
      type: gigachat
      tokenUrl: https://ngw.devices.sberbank.ru:9443/api/v2/oauth
      authorizationKey: \${GIGACHAT_AUTH_KEY}
      scope: \${GIGACHAT_SCOPE:-GIGACHAT_API_PERS}
`,
  env: `# GigaChat "Authorization key" (base64 of client_id:client_secret) from https://developers.sber.ru/studio
GIGACHAT_AUTH_KEY=replace-with-your-gigachat-authorization-key
# GIGACHAT_API_PERS (individuals), GIGACHAT_API_B2B or GIGACHAT_API_CORP
GIGACHAT_SCOPE=GIGACHAT_API_PERS
`,
  steps: [
    `GigaChat: download the Russian Trusted Root CA into certs/ (the config comment shows how):\n     mkdir -p certs && curl -fsSL ${CA_URL} -o certs/russian_trusted_root_ca.pem`,
  ],
};
