/** What `ai-relay check` does once its flags are parsed (definition in check.ts). */
import chalk from 'chalk';
import { loadEnv } from '../../config/env.js';
import { loadConfigFile } from '../../config/load.js';
import { formatIssue } from '../../errors.js';
import { describeRoutes } from '../route-table.js';
import { compileTable } from '../../routing/compile.js';
import { PoolRegistry } from '../../upstream/dispatcher.js';
import { silentLogger } from '../../log/logger.js';
import type { CheckFlags } from './check.js';

export async function runCheck(opts: CheckFlags): Promise<void> {
  const env = loadEnv(opts.envFile ?? '.env', process.env, opts.envFile !== undefined);
  const loaded = loadConfigFile(opts.config, { env, strict: opts.strict ?? false });
  // Compile too (then discard): unreadable CA files, broken plugins and a missing image
  // library fail `check` exactly as they would fail `serve`.
  const pools = new PoolRegistry();
  // loadImageLibrary: serve loads sharp only after it listens; check loads it now.
  const table = await compileTable(loaded, { pools, log: silentLogger(), env, loadImageLibrary: true });
  const unavailable = new Map(table.routes.filter((r) => r.disabledReason).map((r) => [r.name, r.disabledReason!]));
  await table.dispose();
  await pools.destroyAll();
  const out = process.stdout;
  out.write(describeRoutes(loaded, env, unavailable));
  for (const w of loaded.warnings) out.write(`${chalk.yellow('warning')} ${formatIssue({ ...w, file: opts.config })}\n`);
  out.write(chalk.green(`${opts.config}: OK`) + '\n');
}
