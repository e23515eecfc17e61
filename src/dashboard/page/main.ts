/** The dashboard page: wires the live feed to the panels. No framework, no markup from data. */
import { createCharts } from './charts.js';
import { connect, type ConnState } from './connection.js';
import { byId } from './dom.js';
import { renderCache, renderEgress, renderOAuth, renderPools, renderRefusals, renderRoutes, renderStatus, renderUsage } from './panels.js';
import { LiveTail } from './tail.js';
import type { View } from './types.js';

const WAITING =
  'Waiting for a connection to the relay. Browsers open at most six HTTP/1.1 connections per host, shared by every tab; ' +
  'long-running streams to this relay may hold them all. Close a stream, or serve the dashboard over HTTPS (HTTP/2) or on its own listener (server.dashboard.listen).';

function start(): void {
  const mount = location.pathname.replace(/\/+$/, '');
  const tail = new LiveTail();
  const charts = createCharts(byId('chart-req'), byId('chart-lat'));
  const conn = byId('conn');
  const banner = byId('waiting');
  let last: View | undefined;
  // The relay's clock, advanced locally so uptime and "in 3m" keep moving between updates.
  let skew = 0;

  const paint = () => {
    if (!last) return;
    const now = Date.now() + skew;
    renderStatus(last, now);
    renderPools(last, now);
    renderOAuth(last, now);
    renderEgress(last, now);
  };

  connect(mount, {
    onView(v) {
      last = v;
      skew = v.now - Date.now();
      tail.routes(v.routes.map((r) => r.route));
      tail.take(v.tail, v.type === 'snapshot');
      renderRoutes(v);
      renderUsage(v, Date.now() + skew);
      renderRefusals(v);
      renderCache(v);
      charts.update(v.series);
      paint();
    },
    onState(s: ConnState, detail?: string) {
      const text: Record<ConnState, string> = { connecting: 'connecting…', live: 'live', hidden: 'paused while the tab is hidden', retrying: 'connection lost', waiting: 'waiting for a connection…' };
      conn.textContent = detail ? `${text[s]} (${detail})` : text[s];
      conn.className = `conn ${s === 'live' ? 'live' : s === 'retrying' || s === 'waiting' ? 'bad' : ''}`;
      banner.hidden = s !== 'waiting';
      if (s === 'waiting') banner.textContent = WAITING;
    },
  });
  window.setInterval(paint, 1000);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
