/**
 * A validator key in a hardware security module, through PKCS#11 (`pkcs11js`): an Ed25519 key pair
 * (CKM_EC_EDWARDS_KEY_PAIR_GEN) on a token, found by label, signing with CKM_EDDSA. The private key
 * is created sensitive and never leaves the token. Tested against SoftHSM2.
 */
import { createRequire } from 'node:module';
import type { Signer } from './signer.ts';

/** pkcs11js's constants do not name the EdDSA mechanisms yet: their PKCS#11 3.0 values. */
const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
const CKM_EDDSA = 0x1057;
/** EC parameters naming Ed25519: the printable string "edwards25519". */
const ED25519_PARAMS = Buffer.from('130c656477617264733235353139', 'hex');

export interface Pkcs11Options {
  /** Path of the PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so). */
  module: string;
  /** Label of the token holding the key. */
  token: string;
  pin: string;
  /** Label of the key pair on the token. */
  keyLabel: string;
}

export class Pkcs11Error extends Error {
  readonly code: 'HSM_UNAVAILABLE' | 'HSM_TOKEN_NOT_FOUND' | 'HSM_KEY_NOT_FOUND' | 'HSM_FAILED';
  constructor(code: Pkcs11Error['code'], message: string) {
    super(message);
    this.name = 'Pkcs11Error';
    this.code = code;
  }
}

interface Pkcs11Lib {
  PKCS11: new () => Pkcs11Module;
  [constant: string]: unknown;
}
interface Pkcs11Module {
  load(path: string): void;
  C_Initialize(): void;
  C_Finalize(): void;
  C_GetSlotList(tokenPresent: boolean): Buffer[];
  C_GetTokenInfo(slot: Buffer): { label: string };
  C_OpenSession(slot: Buffer, flags: number): Buffer;
  C_CloseSession(session: Buffer): void;
  C_Login(session: Buffer, userType: number, pin: string): void;
  C_FindObjectsInit(session: Buffer, template: Array<{ type: number; value?: unknown }>): void;
  C_FindObjects(session: Buffer, max: number): Buffer[];
  C_FindObjectsFinal(session: Buffer): void;
  C_GetAttributeValue(session: Buffer, object: Buffer, template: Array<{ type: number }>): Array<{ type: number; value: Buffer }>;
  C_GenerateKeyPair(session: Buffer, mechanism: { mechanism: number }, publicTemplate: unknown[], privateTemplate: unknown[]): { publicKey: Buffer; privateKey: Buffer };
  C_SignInit(session: Buffer, mechanism: { mechanism: number }, key: Buffer): void;
  C_Sign(session: Buffer, data: Buffer, out: Buffer): Buffer;
}

function lib(): Pkcs11Lib {
  try {
    return createRequire(import.meta.url)('pkcs11js') as Pkcs11Lib;
  } catch (e) {
    throw new Pkcs11Error('HSM_UNAVAILABLE', `the PKCS#11 binding could not be loaded: ${(e as Error).message}`);
  }
}

const c = (l: Pkcs11Lib, name: string) => l[name] as number;

export class Pkcs11Signer implements Signer {
  readonly publicKey: Uint8Array;
  private readonly p: Pkcs11Module;
  private readonly session: Buffer;
  private readonly privateKey: Buffer;

  private constructor(p: Pkcs11Module, session: Buffer, privateKey: Buffer, publicKey: Uint8Array) {
    this.p = p;
    this.session = session;
    this.privateKey = privateKey;
    this.publicKey = publicKey;
  }

  /** Opens the token and finds the key pair labelled `keyLabel`; with `create`, makes it if absent. */
  static open(o: Pkcs11Options, opts: { create?: boolean } = {}): Pkcs11Signer {
    const l = lib();
    const p = new l.PKCS11();
    try {
      p.load(o.module);
      p.C_Initialize();
    } catch (e) {
      throw new Pkcs11Error('HSM_UNAVAILABLE', `cannot load PKCS#11 module ${o.module}: ${(e as Error).message}`);
    }
    try {
      const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === o.token);
      if (!slot) throw new Pkcs11Error('HSM_TOKEN_NOT_FOUND', `no token labelled ${o.token}`);
      const session = p.C_OpenSession(slot, c(l, 'CKF_RW_SESSION') | c(l, 'CKF_SERIAL_SESSION'));
      p.C_Login(session, c(l, 'CKU_USER'), o.pin);
      const find = (cls: string): Buffer | undefined => {
        p.C_FindObjectsInit(session, [{ type: c(l, 'CKA_CLASS'), value: c(l, cls) }, { type: c(l, 'CKA_LABEL'), value: o.keyLabel }]);
        const [found] = p.C_FindObjects(session, 1);
        p.C_FindObjectsFinal(session);
        return found;
      };
      let privateKey = find('CKO_PRIVATE_KEY'), publicObject = find('CKO_PUBLIC_KEY');
      if ((!privateKey || !publicObject) && opts.create) {
        const keys = p.C_GenerateKeyPair(session, { mechanism: CKM_EC_EDWARDS_KEY_PAIR_GEN }, [
          { type: c(l, 'CKA_TOKEN'), value: true }, { type: c(l, 'CKA_EC_PARAMS'), value: ED25519_PARAMS },
          { type: c(l, 'CKA_VERIFY'), value: true }, { type: c(l, 'CKA_LABEL'), value: o.keyLabel },
        ], [
          { type: c(l, 'CKA_TOKEN'), value: true }, { type: c(l, 'CKA_SIGN'), value: true }, { type: c(l, 'CKA_PRIVATE'), value: true },
          { type: c(l, 'CKA_SENSITIVE'), value: true }, { type: c(l, 'CKA_EXTRACTABLE'), value: false }, { type: c(l, 'CKA_LABEL'), value: o.keyLabel },
        ]);
        privateKey = keys.privateKey;
        publicObject = keys.publicKey;
      }
      if (!privateKey || !publicObject) throw new Pkcs11Error('HSM_KEY_NOT_FOUND', `no key pair labelled ${o.keyLabel} on token ${o.token}`);
      const point = p.C_GetAttributeValue(session, publicObject, [{ type: c(l, 'CKA_EC_POINT') }])[0]!.value;
      // CKA_EC_POINT: the 32-byte key, wrapped in a DER OCTET STRING (04 20 ...) by most tokens.
      const publicKey = new Uint8Array(point.length === 34 && point[0] === 0x04 && point[1] === 0x20 ? point.subarray(2) : point);
      if (publicKey.length !== 32) throw new Pkcs11Error('HSM_FAILED', `the token's key ${o.keyLabel} is not an Ed25519 key`);
      return new Pkcs11Signer(p, session, privateKey, publicKey);
    } catch (e) {
      try {
        p.C_Finalize();
      } catch {
        // already failing
      }
      if (e instanceof Pkcs11Error) throw e;
      throw new Pkcs11Error('HSM_FAILED', (e as Error).message);
    }
  }

  sign(message: Uint8Array): Uint8Array {
    try {
      this.p.C_SignInit(this.session, { mechanism: CKM_EDDSA }, this.privateKey);
      return new Uint8Array(this.p.C_Sign(this.session, Buffer.from(message), Buffer.alloc(64)));
    } catch (e) {
      throw new Pkcs11Error('HSM_FAILED', `signing on the token failed: ${(e as Error).message}`);
    }
  }

  close(): void {
    try {
      this.p.C_CloseSession(this.session);
    } finally {
      this.p.C_Finalize();
    }
  }
}
