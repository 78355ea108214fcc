import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RateLimiter } from './rate-limit.ts';

test('rate limiter: a burst, then one token per 1/perSecond, per key', () => {
  let now = 0;
  const limiter = new RateLimiter({ perSecond: 2, burst: 3 }, () => now);
  assert.equal([1, 2, 3, 4].map(() => limiter.take('a')), [true, true, true, false]);
  assert.ok(limiter.take('b'), 'another address has its own bucket');
  assert.is(limiter.retryAfterMs('a'), 500);
  now = 499;
  assert.not.ok(limiter.take('a'));
  now = 500;
  assert.ok(limiter.take('a'));
  assert.not.ok(limiter.take('a'));
  now = 10_000; // refills to the burst, not beyond
  assert.equal([1, 2, 3, 4].map(() => limiter.take('a')), [true, true, true, false]);
});

test('rate limiter: the table stays bounded under many addresses, full buckets go first', () => {
  let now = 0;
  const limiter = new RateLimiter({ perSecond: 1, burst: 2 }, () => now, 100);
  limiter.take('busy');
  limiter.take('busy');
  for (let i = 0; i < 1_000; i++) {
    limiter.take(`addr${i}`);
    now += 1;
  }
  assert.ok(limiter.size <= 100, `size ${limiter.size}`);
  assert.throws(() => new RateLimiter({ perSecond: 0, burst: 1 }), /perSecond/);
});

test.run();
