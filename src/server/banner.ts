/** Startup banner: the route table and warnings for disabled routes. */
import type { LoadedConfig } from '../config/load.js';
import type { Logger } from '../log/logger.js';
import type { RouteTable } from '../routing/table.js';
import { formatIssue } from '../errors.js';

export function logBanner(log: Logger, loaded: LoadedConfig, table: RouteTable, url: string): void {
  for (const w of loaded.warnings) log.warn(formatIssue(w));
  for (const r of table.routes) {
    if (r.disabledReason) {
      log.warn({ route: r.name, missing: r.disabled }, `route ${r.name} is disabled: ${r.disabledReason} (answers 503 route_disabled)`);
    }
  }
  log.info(
    {
      url,
      bases: table.bases,
      routes: table.routes.map((r) => ({ name: r.name, prefix: r.prefix, upstream: r.info.upstream, auth: r.auth.open ? 'none' : r.config.auth, egress: r.egress, disabled: r.disabledReason ? true : undefined })),
    },
    `ai-relay listening on ${url}`,
  );
}
