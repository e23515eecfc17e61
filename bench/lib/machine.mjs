// What the numbers were measured on: CPU, cores, kernel, and the versions of everything.
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from './targets.mjs';

const require = createRequire(join(ROOT, 'package.json'));

function pkgVersion(name) {
  try {
    return JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

function cmdOut(cmd, args) {
  try {
    const r = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return r.trim();
  } catch (e) {
    return `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || null;
  }
}

export function machineInfo() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  return {
    nproc: Number(cmdOut('nproc', [])) || os.availableParallelism(),
    cpuModel: model,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    hypervisor: /^flags\s*:.*\bhypervisor\b/m.test(cpuinfo),
  };
}

export async function versions(python) {
  let sharpV = null;
  try {
    const sharp = require('sharp');
    sharpV = `${sharp.versions.sharp} (libvips ${sharp.versions.vips})`;
  } catch {
    /* optional */
  }
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  return {
    'ai-relay': `${pkg.version} (${cmdOut('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']) ?? 'no git'})`,
    node: process.version,
    undici: pkgVersion('undici'),
    nginx: (cmdOut('nginx', ['-v']) ?? '').replace(/^nginx version:\s*/, '') || null,
    wrk: (cmdOut('wrk', ['-v']) ?? '').split('\n')[0].replace(/\s*Copyright.*$/, '') || null,
    fastify: pkgVersion('fastify'),
    '@fastify/http-proxy': pkgVersion('@fastify/http-proxy'),
    'http-proxy': pkgVersion('http-proxy'),
    sharp: sharpV,
    pillow: python ? cmdOut(python, ['-c', 'import PIL,sys;print(PIL.__version__, "on Python", sys.version.split()[0])']) : null,
    echarts: pkgVersion('echarts'),
  };
}
