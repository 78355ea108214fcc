import * as env from "./env";
import { Bytes32 } from "./bytes32";

export function sha256(data: Uint8Array): Bytes32 {
  const out = new Uint8Array(32);
  env.sha256(data.dataStart, data.length, out.dataStart);
  return new Bytes32(out);
}

export function sm3(data: Uint8Array): Bytes32 {
  const out = new Uint8Array(32);
  env.sm3(data.dataStart, data.length, out.dataStart);
  return new Bytes32(out);
}

/** Whether `signature` (64 bytes) over `message` is valid for the Ed25519 public key. */
export function verifyEd25519(signature: Uint8Array, publicKey: Bytes32, message: Uint8Array): bool {
  if (signature.length != 64) return false;
  return env.ed25519_verify(signature.dataStart, publicKey.bytes.dataStart, message.dataStart, message.length) == 1;
}
