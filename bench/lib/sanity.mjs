// Before measuring, prove each target really relays (a 200 with the upstream's body), and that
// the relay's route really enforces what it is credited with (auth, CORS), so a
// misconfigured target can never look fast by answering errors.
import { request } from './http.mjs';
import { CLIENT_HEADERS, ORIGIN } from './targets.mjs';

export async function sanityCheck(name, t) {
  const ok = await request(`${t.url}/api/v1/small`, { headers: CLIENT_HEADERS });
  if (ok.status !== 200 || !ok.body.includes('chatcmpl-bench')) {
    throw new Error(`${name}: GET /api/v1/small answered ${ok.status}: ${ok.body.toString('utf8', 0, 200)}`);
  }
  if (!name.startsWith('relay')) return;
  const noToken = await request(`${t.url}/api/v1/small`, { headers: { origin: ORIGIN } });
  if (noToken.status !== 401) throw new Error(`relay: a request without the relay token answered ${noToken.status}, expected 401`);
  if (ok.headers['access-control-allow-origin'] !== ORIGIN) throw new Error('relay: no Access-Control-Allow-Origin on the CORS route');
}
