/**
 * The custody address (SPEC E5): one string naming a file by its content and the service that keeps it,
 *
 *   brop-custody:sha256:<64 lower-case hex digits of the file's SHA-256>@<the service's base URL>
 *
 * e.g. `brop-custody:sha256:9f86…0a08@https://custody.example.org/`. The base URL is canonical (http or
 * https, no user, query or fragment, host as the URL standard writes it, path ending in "/"), so one
 * file at one service has exactly one address; the file is downloaded from `<base>custody/sha256/<hex>`.
 * The chain keeps the address's digest (evidence.register's `custody`): SHA-256 of its UTF-8 bytes.
 *
 * Browser-safe (no Node imports): the service, the client and verifiers all use this module.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { CustodyError } from './errors.ts';

export const CUSTODY_SCHEME = 'brop-custody';
const PREFIX = `${CUSTODY_SCHEME}:sha256:`;
/** Long enough for any sensible public URL; short enough that an address stays a small string. */
export const MAX_BASE_URL_LENGTH = 512;
const HEX64 = /^[0-9a-f]{64}$/;

export interface CustodyAddress {
  algorithm: 'sha256';
  /** The file's SHA-256, 64 lower-case hex digits (no 0x). */
  hex: string;
  /** The keeping service's canonical base URL (ends in "/"). */
  base: string;
}

function bad(message: string): CustodyError {
  return new CustodyError('CUSTODY_BAD_ADDRESS', message);
}

/** The canonical form of a service's base URL; CUSTODY_BAD_ADDRESS if it cannot be one. */
export function canonicalBaseUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw bad(`not a URL: ${JSON.stringify(url.slice(0, 100))}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw bad('a custody base URL is http or https');
  if (u.username !== '' || u.password !== '') throw bad('a custody base URL carries no user or password');
  if (u.search !== '' || u.hash !== '' || url.includes('?') || url.includes('#')) throw bad('a custody base URL has no query or fragment');
  const path = u.pathname.endsWith('/') ? u.pathname : `${u.pathname}/`;
  const base = `${u.protocol}//${u.host}${path}`;
  if (base.length > MAX_BASE_URL_LENGTH) throw bad(`a custody base URL is at most ${MAX_BASE_URL_LENGTH} characters`);
  return base;
}

/** The address of the file with SHA-256 `hex` (64 hex digits, 0x optional) kept by the service at `base`. */
export function formatCustodyAddress(hex: string, base: string): string {
  return `${PREFIX}${digestHex(hex)}@${canonicalBaseUrl(base)}`;
}

/** Reads an address; CUSTODY_BAD_ADDRESS unless it is exactly in the canonical form. */
export function parseCustodyAddress(address: unknown): CustodyAddress {
  if (typeof address !== 'string') throw bad('a custody address is a string');
  if (address.length > PREFIX.length + 65 + MAX_BASE_URL_LENGTH) throw bad('custody address too long');
  if (!address.startsWith(PREFIX)) throw bad(`a custody address starts with ${PREFIX}`);
  const hex = address.slice(PREFIX.length, PREFIX.length + 64);
  if (!HEX64.test(hex)) throw bad('a custody address names the file by 64 lower-case hex digits of its SHA-256');
  if (address[PREFIX.length + 64] !== '@') throw bad('the digest in a custody address is followed by @ and the base URL');
  const base = address.slice(PREFIX.length + 65);
  if (canonicalBaseUrl(base) !== base) throw bad(`the base URL in a custody address must be canonical: ${canonicalBaseUrl(base)}`);
  return { algorithm: 'sha256', hex, base };
}

/** What evidence.register's `custody` holds: 0x and the SHA-256 of the address's UTF-8 bytes. */
export function custodyDigest(address: string): string {
  parseCustodyAddress(address);
  return `0x${toHex(sha256(new TextEncoder().encode(address)))}`;
}

/** Where the file is downloaded from. */
export function downloadUrl(address: string | CustodyAddress): string {
  const a = typeof address === 'string' ? parseCustodyAddress(address) : address;
  return `${a.base}${downloadPath(a.hex)}`;
}

/** The download path below a service's base URL (no leading slash). */
export function downloadPath(hex: string): string {
  return `custody/sha256/${digestHex(hex)}`;
}

/** 64 lower-case hex digits from a digest written with or without 0x, in either case. */
export function digestHex(digest: string): string {
  const hex = (digest.startsWith('0x') || digest.startsWith('0X') ? digest.slice(2) : digest).toLowerCase();
  if (!HEX64.test(hex)) throw bad('a SHA-256 digest is 64 hex digits (0x optional)');
  return hex;
}

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}
