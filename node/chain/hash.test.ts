import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fromHex } from './hash.ts';

test('fromHex takes 0x, 0X or no prefix and either case; anything else is undefined, never a wrong value', () => {
  const ab = [0xab, 0x01];
  for (const text of ['0xab01', '0XAB01', 'ab01', 'AB01', '0xAb01']) assert.equal(Array.from(fromHex(text)!), ab, text);
  assert.equal(Array.from(fromHex('0x')!), []);
  assert.equal(Array.from(fromHex('0xab01', 2)!), ab);
  for (const text of ['0xab0', '0xzz01', 'ab 01', '0x0xab', 'x0ab01', '0xab01 ', '00xab0']) assert.is(fromHex(text), undefined, text);
  assert.is(fromHex('0xab01', 3), undefined);
});

test.run();
