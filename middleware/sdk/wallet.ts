/**
 * Wallets: who signs a partner's transactions. Browser-safe: keys given as bytes sign with
 * @noble/curves; any other signer (the node's key-file signer, a PKCS#11 HSM, a browser extension,
 * a remote signing service) plugs in through TxSigner. Loading key files and keystores from disk is
 * Node-only and lives in node.ts.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { SCHEME_ED25519, encodeTransaction, signingPayload, transactionHash, type Transaction, type UnsignedTransaction } from '../../node/tx/encoding.ts';
import { type Bytes, bytesOf, equalBytes, toHex } from './bytes.ts';
import { SdkError } from './errors.ts';

/** Signs for a wallet. The node's `Signer` (node/keys/signer.ts) is one; signing may also be asynchronous. */
export interface TxSigner {
  /** The 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** An Ed25519 signature (64 bytes) of `message`. */
  sign(message: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** A signed transaction, ready for tx_send (or to hand to whoever sends it). */
export interface SignedTransaction {
  tx: Transaction;
  /** The canonical encoding. */
  bytes: Uint8Array;
  /** The encoding as 0x-hex: tx_send's `tx`. */
  raw: string;
  /** sha256 of the encoding, 0x-hex: the transaction's id everywhere. */
  hash: string;
}

const ADDRESS_DOMAIN = new TextEncoder().encode('brop:address:');

/** The address of an account created with `publicKey` (sha256("brop:address:" ‖ key)), as the identity contract derives it. */
export function addressOf(publicKey: Uint8Array): Uint8Array {
  const m = new Uint8Array(ADDRESS_DOMAIN.length + publicKey.length);
  m.set(ADDRESS_DOMAIN);
  m.set(publicKey, ADDRESS_DOMAIN.length);
  return sha256(m);
}

export interface WalletOptions {
  /**
   * The account the wallet sends for. Default: the address derived from the public key, which is the
   * account's address only for its first key; a key added later (`identity.addKey`) or set by a key
   * reset signs for the account it was added to, whose address never changes (SPEC I1, I5).
   */
  account?: Bytes;
}

export class Wallet {
  readonly signer: TxSigner;
  readonly publicKey: Uint8Array;
  /** The sender of this wallet's transactions. */
  readonly address: Uint8Array;
  readonly addressHex: string;

  private constructor(signer: TxSigner, options: WalletOptions) {
    if (!(signer.publicKey instanceof Uint8Array) || signer.publicKey.length !== 32) throw new SdkError('SDK_BAD_KEY', 'a signer\'s public key is 32 bytes');
    this.signer = signer;
    this.publicKey = signer.publicKey;
    this.address = options.account === undefined ? addressOf(signer.publicKey) : new Uint8Array(bytesOf(options.account, 32, 'account'));
    this.addressHex = toHex(this.address);
  }

  /** Any signer: an HSM, a remote service, the node's key-file signer. */
  static fromSigner(signer: TxSigner, options: WalletOptions = {}): Wallet {
    return new Wallet(signer, options);
  }

  /** A 32-byte Ed25519 private key (seed), signing in JavaScript (@noble/curves): works in browsers. */
  static fromPrivateKey(privateKey: Bytes, options: WalletOptions = {}): Wallet {
    let seed: Uint8Array;
    try {
      seed = new Uint8Array(bytesOf(privateKey, 32, 'private key')); // a copy: the caller's buffer may be reused
    } catch (e) {
      throw new SdkError('SDK_BAD_KEY', (e as Error).message);
    }
    return new Wallet({ publicKey: ed25519.getPublicKey(seed), sign: (message) => ed25519.sign(message, seed) }, options);
  }

  /**
   * A key file's JSON (`brop keys new`: `{type: "ed25519", privateKey, publicKey?}`), already read:
   * in a browser from a file the user picked. Encrypted keystores are opened by `loadWallet` (Node).
   */
  static fromKeyFile(json: unknown, options: WalletOptions = {}): Wallet {
    const j = json as { type?: unknown; privateKey?: unknown; publicKey?: unknown } | null;
    if (j?.type === 'brop-keystore') throw new SdkError('SDK_BAD_KEY', 'an encrypted keystore: open it with loadWallet (brop/sdk/node) and its password');
    if (j?.type !== 'ed25519' || typeof j.privateKey !== 'string') throw new SdkError('SDK_BAD_KEY', 'not an ed25519 key file (type and a 32-byte privateKey expected)');
    const w = Wallet.fromPrivateKey(j.privateKey, options);
    if (typeof j.publicKey === 'string' && !equalBytes(bytesOf(j.publicKey, undefined, 'publicKey'), w.publicKey)) {
      throw new SdkError('SDK_BAD_KEY', 'the key file\'s publicKey does not belong to its privateKey');
    }
    return w;
  }

  /** Signs a transaction body for this wallet's account. */
  async signTransaction(body: Omit<UnsignedTransaction, 'sender'>): Promise<SignedTransaction> {
    const unsigned = { ...body, sender: this.address, scheme: SCHEME_ED25519, publicKey: this.publicKey };
    const signature = await this.signer.sign(signingPayload(unsigned));
    if (!(signature instanceof Uint8Array) || signature.length !== 64) throw new SdkError('SDK_BAD_SIGNATURE', 'the signer did not return a 64-byte Ed25519 signature');
    const tx: Transaction = { ...unsigned, signature };
    const bytes = encodeTransaction(tx);
    return { tx, bytes, raw: toHex(bytes), hash: toHex(transactionHash(bytes)) };
  }
}
