/**
 * Test helpers for the RPC transport: raw HTTP posts (to see statuses and headers) and a raw WebSocket
 * peer on a bare TCP socket, which can misbehave the way real clients do (never read, never pong).
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';

export interface RawHttpResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body, or undefined if it is not JSON. */
  json: any;
}

export async function post(url: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }, method = 'POST'): Promise<RawHttpResponse> {
  const res = await fetch(url, { method, headers, body: method === 'GET' || method === 'HEAD' ? undefined : body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export interface Frame {
  opcode: number;
  payload: Buffer;
}

/** Splits server-to-client (unmasked) WebSocket frames off the front of `buf`. */
export function parseFrames(buf: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let at = 0;
  while (buf.length - at >= 2) {
    const opcode = buf[at] & 0x0f;
    let len = buf[at + 1] & 0x7f;
    let head = 2;
    if (len === 126) {
      if (buf.length - at < 4) break;
      len = buf.readUInt16BE(at + 2);
      head = 4;
    } else if (len === 127) {
      if (buf.length - at < 10) break;
      len = Number(buf.readBigUInt64BE(at + 2));
      head = 10;
    }
    if (buf.length - at < head + len) break;
    frames.push({ opcode, payload: buf.subarray(at + head, at + head + len) });
    at += head + len;
  }
  return { frames, rest: buf.subarray(at) };
}

/** A close frame's code and reason. */
export function closeOf(frame: Frame): { code: number; reason: string } {
  return { code: frame.payload.readUInt16BE(0), reason: frame.payload.subarray(2).toString('utf8') };
}

/** A masked client-to-server text frame. */
export function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x81, 0x80 | len]) : Buffer.from([0x81, 0x80 | 126, len >> 8, len & 0xff]);
  if (len > 0xffff) throw new RangeError('textFrame: test frames up to 64 KiB');
  const masked = Buffer.alloc(len);
  for (let i = 0; i < len; i++) masked[i] = payload[i] ^ mask[i & 3];
  return Buffer.concat([head, mask, masked]);
}

export interface RawWebSocket {
  socket: net.Socket;
  /** The handshake response's status code (101 when upgraded). */
  status: number;
  /** The handshake response (status line and headers) and, for rejections, its body. */
  response: string;
  /** Bytes received after the handshake so far (while the socket is flowing). */
  received: Buffer[];
  closed: Promise<void>;
}

/** Performs the WebSocket handshake on a bare TCP socket. */
export function rawWebSocket(wsUrl: string, headers: Record<string, string> = {}): Promise<RawWebSocket> {
  const url = new URL(wsUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname);
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = Number(buf.subarray(0, end).toString('latin1').split(' ')[1]);
      if (status !== 101) return; // a rejection: its body arrives up to the close
      socket.off('data', onData);
      const received: Buffer[] = [];
      const rest = buf.subarray(end + 4);
      if (rest.length > 0) received.push(rest);
      socket.on('data', (c: Buffer) => received.push(c));
      resolve({ socket, status, response: buf.subarray(0, end).toString('latin1'), received, closed });
    };
    socket.on('data', onData);
    socket.once('close', () => {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) reject(new Error(`closed during handshake: ${buf.toString('latin1')}`));
      else resolve({ socket, status: Number(buf.toString('latin1').split(' ')[1]), response: buf.toString('latin1'), received: [], closed });
    });
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.write(
      `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
    );
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every few milliseconds until it holds; throws after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 2_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}
