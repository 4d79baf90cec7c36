// The activity chart: events recorded and notifications delivered per hour over the last day, as
// plain SVG built with DOM calls (no library, no inline style: the console's CSP holds).
const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

const W = 720;
const H = 180;
const PAD = { left: 36, right: 8, top: 10, bottom: 28 };

/** `activity`: GET /instances/:id/activity. Two bars per hour; the y axis from 0 to the busiest hour. */
export function activityChart(activity) {
  const hours = activity.hours;
  const max = Math.max(1, ...hours.map((h) => Math.max(h.events, h.deliveries)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / hours.length;
  const bar = Math.max(1, (slot - 4) / 2);
  const y = (n) => PAD.top + plotH - (n / max) * plotH;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': 'events and deliveries per hour, last 24 hours', 'data-chart': 'activity' });
  svg.append(s('line', { x1: PAD.left, y1: PAD.top + plotH, x2: W - PAD.right, y2: PAD.top + plotH, stroke: '#9aa3b2' }));
  svg.append(s('text', { x: PAD.left - 6, y: PAD.top + 8, 'text-anchor': 'end', 'font-size': 10, fill: '#6b7280' }, max));
  svg.append(s('text', { x: PAD.left - 6, y: PAD.top + plotH, 'text-anchor': 'end', 'font-size': 10, fill: '#6b7280' }, 0));
  hours.forEach((h, i) => {
    const x = PAD.left + i * slot + 2;
    const label = `${h.hour.slice(11, 16)} UTC: ${h.events} events, ${h.deliveries} deliveries`;
    const g = s('g', { 'data-hour': h.hour }, s('title', {}, label));
    g.append(s('rect', { x, y: y(h.events), width: bar, height: PAD.top + plotH - y(h.events), fill: '#3b6fd8', 'data-series': 'events', 'data-value': h.events }));
    g.append(s('rect', { x: x + bar, y: y(h.deliveries), width: bar, height: PAD.top + plotH - y(h.deliveries), fill: '#2f9e55', 'data-series': 'deliveries', 'data-value': h.deliveries }));
    if (i % 4 === 0) g.append(s('text', { x: x + bar, y: H - 10, 'text-anchor': 'middle', 'font-size': 10, fill: '#6b7280' }, h.hour.slice(11, 16)));
    svg.append(g);
  });
  const legend = s('g', {}, s('rect', { x: W - 190, y: 2, width: 10, height: 10, fill: '#3b6fd8' }), s('text', { x: W - 176, y: 11, 'font-size': 11 }, 'events'),
    s('rect', { x: W - 120, y: 2, width: 10, height: 10, fill: '#2f9e55' }), s('text', { x: W - 106, y: 11, 'font-size': 11 }, 'deliveries'));
  svg.append(legend);
  return svg;
}
