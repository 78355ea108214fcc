/**
 * The frame economies of frames.ts, against the real libraries: a yamux stream gives credit back in
 * halves (and never leaves its sender without any), and noise frames reach the transport one piece
 * each, still decrypting to what was sent. Either failing after a library upgrade means the change no
 * longer takes hold (`bench -- consensus` would show it as more writes and CPU per transaction).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream';
import { noise } from '@chainsafe/libp2p-noise';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddrConnectionPair } from '@libp2p/utils';
import type { ComponentLogger, Logger, MessageStream, Upgrader } from '@libp2p/interface';
import { coalescedWrites, grantYamuxCreditInHalves } from './frames.ts';

const quiet: Logger = Object.assign(() => undefined, { error: () => undefined, trace: () => undefined, enabled: false, newScope: () => quiet });
const logger: ComponentLogger = { forComponent: () => quiet };

const WINDOW = 256 * 1024; // yamux's initial stream window
const DATA = 0, WINDOW_UPDATE = 1; // yamux frame types

/** An established yamux stream whose sent frames are recorded. */
function stream(): { s: YamuxStream; sent: Array<{ type: number; length: number }> } {
  const sent: Array<{ type: number; length: number }> = [];
  const s = new YamuxStream({
    id: '1', streamId: 1, state: StreamState.Established, direction: 'inbound', log: quiet, getRTT: () => -1,
    sendFrame: (h) => { sent.push({ type: h.type, length: h.length }); return true; },
  });
  s.addEventListener('message', () => undefined); // a reader: data is consumed as it comes
  return { s, sent };
}

function receive(s: YamuxStream, bytes: number): void {
  s.handleData({ header: { type: DATA, flag: 0, streamID: 1, length: bytes, version: 0 }, data: new Uint8Array(bytes) } as unknown as Parameters<YamuxStream['handleData']>[0]);
}

test('a yamux stream gives its sender credit back once half the window is used, not after every frame', () => {
  grantYamuxCreditInHalves();
  grantYamuxCreditInHalves(); // applying it again changes nothing
  const { s, sent } = stream();
  let received = 0;
  for (let i = 0; i < 127; i++) receive(s, 1024), received += 1024;
  assert.equal(sent, [], 'no update while less than half the window is used');
  receive(s, 1024), received += 1024;
  assert.equal(sent, [{ type: WINDOW_UPDATE, length: WINDOW / 2 }], 'all the credit used so far, at half the window');
  // A sender that always spends all the credit it has is never left without: updates keep coming.
  let credit = WINDOW - received + sent.reduce((n, f) => n + f.length, 0);
  for (let i = 0; i < 50; i++) {
    assert.ok(credit > 0);
    receive(s, credit), received += credit;
    credit = WINDOW - received + sent.reduce((n, f) => n + f.length, 0);
  }
  assert.ok(sent.length > 10 && sent.every((f) => f.type === WINDOW_UPDATE));
});

test('noise frames reach the transport one piece each (length and ciphertext in one write) and decrypt to what was sent', async () => {
  const [outbound, inbound] = multiaddrConnectionPair();
  const pieces: unknown[] = [];
  const send = outbound.send.bind(outbound);
  outbound.send = (data) => {
    pieces.push(data);
    return send(data);
  };
  const upgrader = { getStreamMuxers: () => new Map() } as unknown as Upgrader;
  const encrypter = async () => {
    const privateKey = await generateKeyPair('Ed25519');
    return coalescedWrites(noise())({ privateKey, peerId: peerIdFromPrivateKey(privateKey), logger, upgrader });
  };
  const [a, b] = await Promise.all([encrypter(), encrypter()]);
  const [secureA, secureB] = await Promise.all([a.secureOutbound(outbound), b.secureInbound(inbound)]);
  const got: Uint8Array[] = [];
  secureB.connection.addEventListener('message', (e) => got.push((e as unknown as { data: Uint8Array | { subarray(): Uint8Array } }).data.subarray()));
  // Larger than a noise frame (64 KiB): several frames in one send.
  const message = new Uint8Array(200_000).map((_, i) => i % 251);
  pieces.length = 0;
  (secureA.connection as MessageStream).send(message);
  const end = Date.now() + 5000;
  while (got.reduce((n, g) => n + g.length, 0) < message.length && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  assert.equal(Buffer.concat(got), Buffer.from(message));
  assert.ok(pieces.length > 0);
  assert.ok(pieces.every((p) => p instanceof Uint8Array), 'each send a single buffer');
  await Promise.all([secureA.connection.close(), secureB.connection.close()]);
});

test.run();
