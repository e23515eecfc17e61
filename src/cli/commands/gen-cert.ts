/**
 * `ai-relay gen-cert` (spec §2): a self-signed certificate for the HTTPS listener, written
 * without openssl, with the SHA-256 fingerprint and the ways to trust it.
 */
import { Command } from 'commander';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { DEFAULT_CERT_DAYS, MAX_CERT_DAYS, generateCertificate, type CertKeyType } from '../../tls/generate.js';
import { DEFAULT_CERT_HOSTS, toSanEntries } from '../../tls/hosts.js';
import { assertCanWrite, writeCertificatePair } from '../../tls/files.js';

interface GenCertFlags {
  out: string;
  host?: string[];
  days: string;
  keyType: string;
  force?: boolean;
}

export function genCertCommand(): Command {
  return new Command('gen-cert')
    .description('write a self-signed certificate (cert.pem) and key (key.pem, mode 0600) for server.tls')
    .option('--out <dir>', 'directory for cert.pem and key.pem', 'certs')
    .option('--host <name-or-ip>', `DNS name or IP address for the certificate; repeat for several (default: ${DEFAULT_CERT_HOSTS.join(', ')})`, collect)
    .option('--days <n>', `validity in days (1–${MAX_CERT_DAYS})`, String(DEFAULT_CERT_DAYS))
    .option('--key-type <type>', 'ec (P-256) or rsa (2048 bit)', 'ec')
    .option('--force', 'overwrite existing files')
    .action(async (flags: GenCertFlags) => {
      await runGenCert(flags);
    });
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

async function runGenCert(flags: GenCertFlags): Promise<void> {
  const hosts = flags.host ?? [...DEFAULT_CERT_HOSTS];
  toSanEntries(hosts); // UsageError (exit 2) with the reason before anything touches the disk
  const days = parseDays(flags.days);
  const keyType = parseKeyType(flags.keyType);
  const certFile = join(flags.out, 'cert.pem');
  const keyFile = join(flags.out, 'key.pem');
  const certPath = resolve(certFile);
  const keyPath = resolve(keyFile);
  await assertCanWrite([certPath, keyPath], flags.force === true);

  const pair = await generateCertificate({ hosts, days, keyType });
  await writeCertificatePair({ certPath, keyPath, certPem: pair.certPem, keyPem: pair.keyPem, force: flags.force === true });

  if (days > DEFAULT_CERT_DAYS) {
    process.stderr.write(`warning: macOS and iOS refuse TLS certificates valid for more than ${DEFAULT_CERT_DAYS} days, even when trusted by hand\n`);
  }
  process.stdout.write(report({ certFile, keyFile, hosts, days, keyType, fingerprint: pair.fingerprint256, notAfter: pair.notAfter }));
}

function parseDays(raw: string): number {
  const days = /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isInteger(days) || days < 1 || days > MAX_CERT_DAYS) {
    throw new UsageError(`invalid --days ${JSON.stringify(raw)}: must be a whole number of days from 1 to ${MAX_CERT_DAYS}`);
  }
  return days;
}

function parseKeyType(raw: string): CertKeyType {
  if (raw === 'ec' || raw === 'rsa') return raw;
  throw new UsageError(`invalid --key-type ${JSON.stringify(raw)}: use ec (P-256) or rsa (2048 bit)`);
}

interface ReportFacts {
  certFile: string;
  keyFile: string;
  hosts: string[];
  days: number;
  keyType: CertKeyType;
  fingerprint: string;
  notAfter: Date;
}

function report(f: ReportFacts): string {
  const first = f.hosts[0]!;
  const urlHost = first.includes(':') && !first.startsWith('[') ? `[${first}]` : first;
  const lines = [
    `Wrote ${f.certFile} and ${f.keyFile} (key readable by you only, mode 0600)`,
    `  hosts:       ${f.hosts.join(', ')}`,
    `  key:         ${f.keyType === 'ec' ? 'EC P-256' : 'RSA 2048'}`,
    `  valid until: ${f.notAfter.toISOString().slice(0, 10)} (${f.days} days)`,
    `  SHA-256 fingerprint:`,
    `    ${f.fingerprint}`,
    '',
    'Use it in proxy.config.yaml (paths are relative to the config file):',
    '  server:',
    '    tls:',
    `      cert: ${f.certFile}`,
    `      key: ${f.keyFile}`,
    '',
    'Trust it on the machines that call the relay (compare the fingerprint above):',
    `  curl:           curl --cacert ${f.certFile} https://${urlHost}:8787/health`,
    `  Node.js:        NODE_EXTRA_CA_CERTS=${f.certFile} node app.js`,
    `  Python:         REQUESTS_CA_BUNDLE=${f.certFile} python app.py`,
    `  Browser:        open https://${urlHost}:8787/health, compare the fingerprint in the certificate viewer,`,
    '                  then accept (Firefox: "Accept the Risk and Continue"); Chrome, Edge and Safari also trust the OS store:',
    `  Debian/Ubuntu:  sudo cp ${f.certFile} /usr/local/share/ca-certificates/ai-relay.crt && sudo update-ca-certificates`,
    `  macOS:          sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ${f.certFile}`,
    `  Windows:        certutil -addstore -f Root ${f.certFile}   (as administrator)`,
    '',
    `Never share ${f.keyFile}. For a public site, a certificate from Let's Encrypt (e.g. Caddy in front) is better: see docs/tls.md.`,
  ];
  return lines.join('\n') + '\n';
}
