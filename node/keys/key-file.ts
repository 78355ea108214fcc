/**
 * Key files: an Ed25519 key pair as JSON (hex), readable only by its owner (mode 0600), with the
 * account address it signs for. Written atomically (temp file, then rename), so a crash never leaves
 * half a key.
 */
import { readFileSync, writeFileSync, renameSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { accountAddress } from '../../contracts/system/index.ts';
import { ed25519PublicKey, generateEd25519 } from '../crypto/ed25519.ts';
import { fromHex, hex } from '../chain/hash.ts';

export interface KeyPair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

export interface KeyFile {
  type: 'ed25519';
  address: string;
  publicKey: string;
  privateKey: string;
}

export class KeyFileError extends Error {
  readonly code: 'KEY_FILE_INVALID' | 'KEY_FILE_EXISTS' | 'KEY_FILE_MISSING';
  constructor(code: KeyFileError['code'], message: string) {
    super(message);
    this.name = 'KeyFileError';
    this.code = code;
  }
}

export function newKeyPair(): KeyPair {
  return generateEd25519();
}

export function keyFileOf(k: KeyPair): KeyFile {
  return { type: 'ed25519', address: `0x${hex(accountAddress(k.publicKey))}`, publicKey: `0x${hex(k.publicKey)}`, privateKey: `0x${hex(k.privateKey)}` };
}

export function writeKeyFile(path: string, k: KeyPair, opts: { overwrite?: boolean } = {}): KeyFile {
  if (!opts.overwrite && existsSync(path)) throw new KeyFileError('KEY_FILE_EXISTS', `${path} exists: refusing to overwrite a key`);
  mkdirSync(dirname(path), { recursive: true });
  const file = keyFileOf(k);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
  return file;
}

export function readKeyFile(path: string): KeyPair {
  if (!existsSync(path)) throw new KeyFileError('KEY_FILE_MISSING', `no key file at ${path}`);
  let j: Partial<KeyFile>;
  try {
    j = JSON.parse(readFileSync(path, 'utf8')) as Partial<KeyFile>;
  } catch (e) {
    throw new KeyFileError('KEY_FILE_INVALID', `${path} is not JSON: ${(e as Error).message}`);
  }
  const privateKey = typeof j.privateKey === 'string' ? fromHex(j.privateKey, 32) : undefined;
  if (j.type !== 'ed25519' || !privateKey) throw new KeyFileError('KEY_FILE_INVALID', `${path} is not an ed25519 key file (type and a 32-byte privateKey expected)`);
  const publicKey = ed25519PublicKey(privateKey);
  if (typeof j.publicKey === 'string' && j.publicKey.replace(/^0x/, '').toLowerCase() !== hex(publicKey)) {
    throw new KeyFileError('KEY_FILE_INVALID', `${path}: publicKey does not belong to privateKey`);
  }
  return { publicKey, privateKey };
}
