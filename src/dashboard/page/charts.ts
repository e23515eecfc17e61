/** The two time series (requests per minute, latency) drawn with uPlot on canvas. */
import uPlot from 'uplot';
import type { View } from './types.js';

interface Charts {
  update(series: View['series']): void;
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

function widthOf(el: HTMLElement): number {
  return Math.max(200, Math.floor(el.getBoundingClientRect().width));
}

export function createCharts(reqEl: HTMLElement, latEl: HTMLElement): Charts {
  const axis = (): uPlot.Axis => ({ stroke: cssVar('--muted'), grid: { stroke: cssVar('--line'), width: 1 }, ticks: { stroke: cssVar('--line'), width: 1 } });
  const opts = (el: HTMLElement, series: uPlot.Series[]): uPlot.Options => ({
    width: widthOf(el),
    height: 180,
    series: [{}, ...series],
    axes: [axis(), axis()],
    scales: { x: { time: true } },
    cursor: { drag: { x: false, y: false } },
  });
  const empty = (n: number): uPlot.AlignedData => [[], ...Array.from({ length: n }, () => [])] as unknown as uPlot.AlignedData;
  const req = new uPlot(opts(reqEl, [{ label: 'requests', stroke: cssVar('--c1'), fill: 'rgba(37,99,235,0.15)', width: 2 }]), empty(1), reqEl);
  const lat = new uPlot(
    opts(latEl, [
      // Points too: a relay that just started has one minute of data, which no line can show.
      { label: 'p50', stroke: cssVar('--c1'), width: 2, spanGaps: true, points: { show: true, size: 7, fill: cssVar('--c1') } },
      { label: 'p95', stroke: cssVar('--c2'), width: 2, spanGaps: true, points: { show: true, size: 7, fill: cssVar('--c2') } },
      { label: 'p95 first byte', stroke: cssVar('--c3'), width: 1, dash: [4, 3], spanGaps: true, points: { show: true, size: 6, fill: cssVar('--c3') } },
    ]),
    empty(3),
    latEl,
  );
  let last: View['series'] | undefined;
  const resize = () => {
    req.setSize({ width: widthOf(reqEl), height: 180 });
    lat.setSize({ width: widthOf(latEl), height: 180 });
  };
  let pending = 0;
  window.addEventListener('resize', () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(resize);
  });
  return {
    update(s) {
      if (last && same(last, s)) return;
      last = s;
      req.setData([s.t, s.requests]);
      lat.setData([s.t, s.p50, s.p95, s.ttfbP95] as unknown as uPlot.AlignedData);
    },
  };
}

function same(a: View['series'], b: View['series']): boolean {
  return a.t[a.t.length - 1] === b.t[b.t.length - 1] && a.requests.join() === b.requests.join() && a.p95.join() === b.p95.join() && a.p50.join() === b.p50.join() && a.ttfbP95.join() === b.ttfbP95.join();
}
