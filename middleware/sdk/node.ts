/**
 * Node-only parts of the SDK (`brop/sdk/node`): wallets from key files and encrypted keystores on
 * disk, signing through node:crypto (an order of magnitude faster than the browser-safe signer).
 */
import { readFileSync } from 'node:fs';
import { newKeyPair, readKeyFile, writeKeyFile } from '../../node/keys/key-file.ts';
import { readPassword, decryptKey, writeKeystore } from '../../node/keys/keystore.ts';
import { keyPairSigner } from '../../node/keys/signer.ts';
import type { KeyPair } from '../../node/keys/key-file.ts';
import { Wallet, type WalletOptions } from './wallet.ts';

export interface LoadWalletOptions extends WalletOptions {
  /** A keystore's password. Otherwise: passwordFile, then the environment variable, then (if allowed) the terminal. */
  password?: string;
  passwordFile?: string;
  /** Default BROP_KEY_PASSWORD. */
  passwordEnv?: string;
  /** Ask on the terminal when no other source has the password. Default false. */
  prompt?: boolean;
}

/**
 * A wallet from a key file (`brop keys new`) or an encrypted keystore (`brop keys new --encrypt`).
 * Errors keep the key modules' codes: KEY_FILE_MISSING, KEY_FILE_INVALID, KEYSTORE_BAD_PASSWORD,
 * KEYSTORE_NO_PASSWORD, KEYSTORE_INVALID.
 */
export async function loadWallet(path: string, options: LoadWalletOptions = {}): Promise<Wallet> {
  return walletOf(await loadKeyPair(path, options), options);
}

/**
 * A new key, written to `path` (mode 0600) as a key file, or as an encrypted keystore when a password
 * is given; KEY_FILE_EXISTS rather than overwrite a key.
 */
export function createKeyFile(path: string, options: { password?: string } & WalletOptions = {}): Wallet {
  const key = newKeyPair();
  if (options.password !== undefined) writeKeystore(path, key, options.password);
  else writeKeyFile(path, key);
  return walletOf(key, options);
}

/** A wallet signing with a key pair held in memory, through node:crypto. */
export function walletOf(key: KeyPair, options: WalletOptions = {}): Wallet {
  return Wallet.fromSigner(keyPairSigner(key), options);
}

async function loadKeyPair(path: string, options: LoadWalletOptions): Promise<KeyPair> {
  let json: { type?: unknown } | undefined;
  try {
    json = JSON.parse(readFileSync(path, 'utf8')) as { type?: unknown };
  } catch {
    json = undefined; // readKeyFile reports a missing or malformed file with its own codes
  }
  if (json?.type !== 'brop-keystore') return readKeyFile(path);
  const password = options.password ?? await readPassword({ file: options.passwordFile, env: options.passwordEnv ?? 'BROP_KEY_PASSWORD', prompt: options.prompt === true }, path);
  return decryptKey(json, password);
}
