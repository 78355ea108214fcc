// The BROP contract SDK for AssemblyScript. See docs/contracts.md.
export { Encoder, Decoder, encode, decode, encodeValue, decodeValue } from "./codec";
export { Bytes32, Address } from "./bytes32";
export { U128 } from "./u128";
export { Context, returnData, log } from "./context";
export { Storage, PersistentMap, PersistentVector, Singleton, ForeignMap, ForeignSingleton, Entry, scan, itemKey } from "./storage";
export { emit, emitEncoded } from "./events";
export { fail, ensure } from "./errors";
export { sha256, sm3, verifyEd25519 } from "./crypto";
export { callContract, CallResult } from "./call";
