import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { noLeaderMs, type Span, twoLeadersMs } from '../bench/lib/two-leaders.ts';

const span = (id: number, from: number, to = Number.POSITIVE_INFINITY): Span => ({ id, from, to });

describe('twoLeadersMs (the partition bench)', () => {
  it('is zero for leaderships that follow each other, even at the same instant', () => {
    assert.equal(twoLeadersMs([span(1, 0, 10), span(2, 10, 20), span(3, 25)], 0, 100), 0);
  });

  it('measures an overlap, clipped to the window', () => {
    assert.equal(twoLeadersMs([span(1, 0, 10), span(2, 5, 20)], 0, 100), 5);
    assert.equal(twoLeadersMs([span(1, 0), span(2, 5)], 7, 12), 5);
    assert.equal(twoLeadersMs([span(1, 0), span(2, 5)], 0, 3), 0);
  });

  it('counts time with three leaders once (a sum over pairs would give 10)', () => {
    assert.equal(twoLeadersMs([span(1, 0, 10), span(2, 2, 8), span(3, 4, 6)], 0, 100), 6);
  });

  it('adds separate overlaps', () => {
    assert.equal(twoLeadersMs([span(1, 0, 10), span(2, 8, 30), span(1, 25, 40)], 0, 100), 7);
  });

  it('measures the time without a leader, and none for a hand-over at one instant', () => {
    assert.equal(noLeaderMs([span(1, 0, 10), span(2, 10, 20), span(3, 25)], 0, 100), 5);
    assert.equal(noLeaderMs([span(1, 5, 10)], 0, 20), 15);
    assert.equal(noLeaderMs([], 3, 8), 5);
    assert.equal(noLeaderMs([span(1, 0, 10), span(2, 2, 30)], 0, 20), 0);
  });
});
