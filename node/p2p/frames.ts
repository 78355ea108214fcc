/**
 * Fewer, fuller frames on a libp2p connection. Two costs of the libraries as they come, found by
 * counting a validator's socket writes in `bench -- consensus` (about 10,000 in a run, three in four
 * under 64 bytes):
 *
 * - @chainsafe/libp2p-yamux (8.x) answers every data frame it receives with a window update: a second,
 *   tiny encrypted frame back for every gossip message. go-yamux and rust-yamux give the credit back
 *   once half the window has been used; the yamux spec leaves the choice to the receiver.
 * - A noise frame is its 2-byte length and its ciphertext, and the TCP transport writes each part of
 *   what it is handed with a write of its own: every frame cost two system calls and two TCP segments.
 *
 * With both changes a validator writes about a quarter as often, and its peers read and decrypt half as
 * many frames. The changes sit at the libraries' public surfaces: the exported YamuxStream class's
 * public `sendWindowUpdate`, and the `send` of the connection that a connection encrypter is handed.
 */
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream';
import type { ConnectionEncrypter, MessageStream } from '@libp2p/interface';

/** The fields of a yamux stream's receive window (private in its typings). */
interface ReceiveWindow { state: StreamState; recvWindow: number; recvWindowCapacity: number }

let creditInHalves = false;

/**
 * Yamux streams give the sender its credit back once half the receive window is used, not after every
 * frame. Stream set-up flags (SYN, ACK) and paused streams go through yamux's own logic as before, and
 * so does the update itself (with its window growth). Applies to every yamux stream of this process.
 */
export function grantYamuxCreditInHalves(): void {
  if (creditInHalves) return;
  creditInHalves = true;
  const sendWindowUpdate = YamuxStream.prototype.sendWindowUpdate;
  YamuxStream.prototype.sendWindowUpdate = function (this: YamuxStream): void {
    const w = this as unknown as ReceiveWindow;
    if (w.state === StreamState.Established && w.recvWindowCapacity > w.recvWindow / 2) return;
    sendWindowUpdate.call(this);
  };
}

const COALESCED = Symbol('brop.coalescedWrites');

/** What the connection is handed goes on in one piece (a noise frame's length and ciphertext in one write). */
function coalesce(connection: MessageStream): MessageStream {
  const c = connection as MessageStream & { [COALESCED]?: true };
  if (c[COALESCED]) return connection;
  const send = connection.send.bind(connection);
  c.send = (data) => send(data instanceof Uint8Array ? data : data.subarray());
  c[COALESCED] = true;
  return connection;
}

/** A connection encrypter (noise) whose encrypted frames reach the transport one piece each. */
export function coalescedWrites<C, E>(factory: (components: C) => ConnectionEncrypter<E>): (components: C) => ConnectionEncrypter<E> {
  return (components) => {
    const encrypter = factory(components);
    const inbound = encrypter.secureInbound.bind(encrypter);
    const outbound = encrypter.secureOutbound.bind(encrypter);
    encrypter.secureInbound = (connection, options) => inbound(coalesce(connection), options);
    encrypter.secureOutbound = (connection, options) => outbound(coalesce(connection), options);
    return encrypter;
  };
}
