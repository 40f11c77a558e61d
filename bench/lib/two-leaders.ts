/** How long two or more nodes led at once, or none did, from their leaderships on the shared monotonic clock. */

/** One node's leadership: [from, to) in ms, `to` = +Infinity while it lasts. */
export interface Span {
  id: number;
  from: number;
  to: number;
}

/** Time within [from, to] covered by at least `min` and at most `max` spans at once. */
function coveredMs(spans: readonly Span[], from: number, to: number, min: number, max: number): number {
  const edges: [number, number][] = [
    [from, 0],
    [to, 0],
  ];
  for (const s of spans) {
    const a = Math.max(s.from, from);
    const b = Math.min(s.to, to);
    if (b > a) edges.push([a, 1], [b, -1]);
  }
  // Ends before starts at the same instant: a hand-over at one instant is neither an overlap nor a gap.
  edges.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let active = 0;
  let total = 0;
  let since = from;
  for (const [t, d] of edges) {
    if (active >= min && active <= max) total += t - since;
    active += d;
    since = t;
  }
  return total;
}

/**
 * Time within [from, to] during which two or more spans cover the same instant: a union, so three leaders at once
 * count once, not once per pair. A hand-over at one instant (one ends where the next begins) is not an overlap.
 */
export function twoLeadersMs(spans: readonly Span[], from: number, to: number): number {
  return coveredMs(spans, from, to, 2, Number.POSITIVE_INFINITY);
}

/** Time within [from, to] during which no span covers the instant (nobody leads). */
export function noLeaderMs(spans: readonly Span[], from: number, to: number): number {
  return coveredMs(spans, from, to, 0, 0);
}
