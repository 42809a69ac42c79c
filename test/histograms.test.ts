import { describe, expect, it } from 'vitest';
import { BulkRecorder, newHistogram, recordMs, summarise } from '../src/load/histograms.js';

describe('durations recorded in bulk', () => {
  it('give the histogram what recording them one by one gives, across many flushes, repeats and fractions', () => {
    const one = newHistogram();
    const bulk = new BulkRecorder(newHistogram());
    // A storm's repeated 3 ms, long streams of one length, and a spread of fractional ones.
    let seed = 7;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 10_000; i++) {
      const ms = i % 3 === 0 ? 3 : i % 3 === 1 ? 30_012 : Math.round(next() * 5_000_000) / 1000;
      recordMs(one, ms);
      bulk.recordMs(ms);
    }
    const histogram = bulk.flushed();
    expect(histogram.totalCount).toBe(10_000);
    expect(summarise(histogram)).toEqual(summarise(one));
    expect(histogram.getValueAtPercentile(25)).toBe(one.getValueAtPercentile(25));
    expect(histogram.getValueAtPercentile(75)).toBe(one.getValueAtPercentile(75));
  });

  it('holds nothing back once flushed, and can go on recording', () => {
    const bulk = new BulkRecorder(newHistogram());
    bulk.recordMs(5);
    const first = summarise(bulk.flushed());
    expect(first.count).toBe(1);
    expect(first.p50).toBeCloseTo(5, 1);
    bulk.recordMs(7);
    bulk.recordMs(7);
    const second = summarise(bulk.flushed());
    expect(second.count).toBe(3);
    expect(second.max).toBeCloseTo(7, 1);
  });
});
