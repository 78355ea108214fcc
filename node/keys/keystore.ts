/**
 * Encrypted keystore files (SPEC C2): an Ed25519 private key encrypted with AES-256-GCM under a key
 * derived from a password with scrypt. The password comes from an environment variable, a file, or a
 * prompt on the terminal. A wrong password or any changed byte fails the GCM tag: a typed error, never
 * a wrong key.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { accountAddress } from '../../contracts/system/index.ts';
import { ed25519PublicKey } from '../crypto/ed25519.ts';
import { equalBytes, fromHex, hex } from '../chain/hash.ts';
import type { KeyPair } from './key-file.ts';

export interface KeystoreFile {
  type: 'brop-keystore';
  version: 1;
  address: string;
  publicKey: string;
  crypto: { kdf: 'scrypt'; n: number; r: number; p: number; salt: string; cipher: 'aes-256-gcm'; iv: string; ciphertext: string; tag: string };
}

export class KeystoreError extends Error {
  readonly code: 'KEYSTORE_INVALID' | 'KEYSTORE_BAD_PASSWORD' | 'KEYSTORE_NO_PASSWORD' | 'KEYSTORE_PASSWORD_MISMATCH' | 'KEYSTORE_ALREADY_ENCRYPTED' | 'KEY_FILE_EXISTS';
  constructor(code: KeystoreError['code'], message: string) {
    super(message);
    this.name = 'KeystoreError';
    this.code = code;
  }
}

/** scrypt cost: 2^15 iterations, 32 MiB of memory; about 0.1 s per unlock here. */
const SCRYPT = { n: 1 << 15, r: 8, p: 1 };
const MAX_N = 1 << 20;

function deriveKey(password: string, salt: Uint8Array, n: number, r: number, p: number): Buffer {
  return scryptSync(password.normalize('NFKC'), salt, 32, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 });
}

export function encryptKey(k: KeyPair, password: string): KeystoreFile {
  if (password.length === 0) throw new KeystoreError('KEYSTORE_NO_PASSWORD', 'an empty password protects nothing');
  const salt = randomBytes(16), iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', deriveKey(password, salt, SCRYPT.n, SCRYPT.r, SCRYPT.p), iv);
  const ciphertext = Buffer.concat([cipher.update(k.privateKey), cipher.final()]);
  return {
    type: 'brop-keystore', version: 1, address: `0x${hex(accountAddress(k.publicKey))}`, publicKey: `0x${hex(k.publicKey)}`,
    crypto: { kdf: 'scrypt', ...SCRYPT, salt: salt.toString('hex'), cipher: 'aes-256-gcm', iv: iv.toString('hex'), ciphertext: ciphertext.toString('hex'), tag: cipher.getAuthTag().toString('hex') },
  };
}

/** Whether `path` holds a keystore (by its type field; a file that is not JSON is not one). */
export function isKeystoreFile(path: string): boolean {
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { type?: unknown } | null)?.type === 'brop-keystore';
  } catch {
    return false;
  }
}

export function decryptKey(file: unknown, password: string): KeyPair {
  const f = file as KeystoreFile;
  const c = f?.crypto;
  if (f?.type !== 'brop-keystore' || f.version !== 1 || c?.kdf !== 'scrypt' || c.cipher !== 'aes-256-gcm') throw new KeystoreError('KEYSTORE_INVALID', 'not a BROP keystore (version 1, scrypt, aes-256-gcm)');
  const salt = fromHex(c.salt), iv = fromHex(c.iv, 12), ciphertext = fromHex(c.ciphertext, 32), tag = fromHex(c.tag, 16);
  const ok = (x: number) => Number.isSafeInteger(x) && x > 0;
  // A crafted file must not make scrypt take gigabytes or minutes: at most 256 MiB and 16 passes.
  if (!salt || !iv || !ciphertext || !tag || !ok(c.n) || !ok(c.r) || !ok(c.p) || c.n > MAX_N || (c.n & (c.n - 1)) !== 0 || 128 * c.n * c.r > 256 * 1024 * 1024 || c.p > 16) {
    throw new KeystoreError('KEYSTORE_INVALID', 'keystore parameters are malformed or out of range');
  }
  let privateKey: Uint8Array;
  try {
    const d = createDecipheriv('aes-256-gcm', deriveKey(password, salt, c.n, c.r, c.p), iv);
    d.setAuthTag(tag);
    privateKey = new Uint8Array(Buffer.concat([d.update(ciphertext), d.final()]));
  } catch {
    throw new KeystoreError('KEYSTORE_BAD_PASSWORD', 'wrong password, or the keystore was altered');
  }
  const publicKey = ed25519PublicKey(privateKey);
  if (f.publicKey?.replace(/^0x/, '').toLowerCase() !== hex(publicKey)) throw new KeystoreError('KEYSTORE_INVALID', 'the keystore\'s public key does not match its private key');
  return { publicKey, privateKey };
}

export function writeKeystore(path: string, k: KeyPair, password: string, opts: { overwrite?: boolean } = {}): KeystoreFile {
  if (!opts.overwrite && existsSync(path)) throw new KeystoreError('KEY_FILE_EXISTS', `${path} exists: refusing to overwrite a key`);
  mkdirSync(dirname(path), { recursive: true });
  const file = encryptKey(k, password);
  // Read back before it replaces anything (keys encrypt overwrites the plain key): a keystore that does
  // not open with this password would be the key lost.
  const back = decryptKey(file, password);
  if (!equalBytes(back.privateKey, k.privateKey)) throw new KeystoreError('KEYSTORE_INVALID', 'the keystore did not read back to its key');
  writeFileSync(`${path}.tmp`, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
  return file;
}

/** Where the password comes from, in this order: a file, an environment variable, the terminal. */
export interface PasswordSource { file?: string; env?: string; prompt?: boolean }

export async function readPassword(src: PasswordSource, what: string): Promise<string> {
  if (src.file) return readFileSync(src.file, 'utf8').replace(/\r?\n$/, '');
  const fromEnv = src.env ? process.env[src.env] : undefined;
  if (fromEnv !== undefined) return fromEnv;
  if (src.prompt && process.stdin.isTTY) {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    // Echo off: replace what readline would write while the password is typed.
    const out = rl as unknown as { _writeToOutput?: (s: string) => void };
    process.stderr.write(`password for ${what}: `);
    out._writeToOutput = () => undefined;
    const answer = await new Promise<string>((resolve) => rl.question('', resolve));
    rl.close();
    process.stderr.write('\n');
    return answer;
  }
  throw new KeystoreError('KEYSTORE_NO_PASSWORD', `no password for ${what}: give a password file, set ${src.env ?? 'the password variable'}, or run on a terminal`);
}

/**
 * A password for a new keystore: as readPassword, but typed on the terminal it is asked twice, since a
 * typo there would lock the key away for good (KEYSTORE_PASSWORD_MISMATCH if the two differ).
 */
export async function readNewPassword(src: PasswordSource, what: string): Promise<string> {
  if (src.file || (src.env && process.env[src.env] !== undefined)) return readPassword(src, what);
  const first = await readPassword(src, what);
  if (first !== await readPassword(src, `${what} (again)`)) throw new KeystoreError('KEYSTORE_PASSWORD_MISMATCH', 'the two passwords differ: nothing was written');
  return first;
}

export async function readKeystore(path: string, src: PasswordSource): Promise<KeyPair> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new KeystoreError('KEYSTORE_INVALID', `${path}: ${(e as Error).message}`);
  }
  return decryptKey(json, await readPassword(src, path));
}
