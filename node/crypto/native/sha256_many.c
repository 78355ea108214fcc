/*
 * sha256Many(data, ends, out): the SHA-256 of many byte strings in one call from JavaScript.
 *
 * node:crypto's hash() costs ~0.6 us for a 65-byte input here, nearly all of it per-call overhead (the
 * compression itself, with the CPU's SHA extensions, is ~0.05 us a block); a block hashes ~12 small
 * inputs per transaction (state tree nodes, Merkle leaves and nodes). This hashes a batch of them with
 * OpenSSL's SHA-256 block functions, linked from the Node binary that loads the addon (no library of
 * our own). OpenSSL 3 marks SHA256_Init/Update/Final deprecated, but they are the fast path (the EVP
 * interface measured ~3x slower per small input); if a future OpenSSL drops them, loading fails and
 * node/crypto/sha256-many.ts falls back to node:crypto.
 */
#include <node_api.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static const char USAGE[] = "sha256Many(data: Uint8Array, ends: Uint32Array, out: Uint8Array)";

/* The call's three typed-array arguments, of the given types; false (a TypeError thrown) otherwise. */
static bool typed_args(napi_env env, napi_callback_info info, const napi_typedarray_type want[3], const char *usage,
                       size_t length[3], void *bytes[3]) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return false;
  }
  for (int i = 0; i < 3; i++) {
    napi_typedarray_type type;
    napi_value buffer;
    size_t offset;
    bool is_typed = false;
    if (napi_is_typedarray(env, argv[i], &is_typed) != napi_ok || !is_typed ||
        napi_get_typedarray_info(env, argv[i], &type, &length[i], &bytes[i], &buffer, &offset) != napi_ok ||
        type != want[i]) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
      return false;
    }
  }
  return true;
}

/* input i is data[ends[i-1] .. ends[i]) (ends[-1] = 0); its digest goes to out[32i .. 32i+32). */
static napi_value sha256_many(napi_env env, napi_callback_info info) {
  const napi_typedarray_type want[3] = { napi_uint8_array, napi_uint32_array, napi_uint8_array };
  size_t length[3];
  void *bytes[3];
  if (!typed_args(env, info, want, USAGE, length, bytes)) return NULL;
  const uint8_t *data = bytes[0];
  const uint32_t *ends = bytes[1];
  uint8_t *out = bytes[2];
  size_t count = length[1];
  if (length[2] / 32 < count) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "out holds fewer than 32 bytes per input");
    return NULL;
  }
  /* Every range is checked before anything is hashed: a bad call writes nothing. */
  uint32_t start = 0;
  for (size_t i = 0; i < count; i++) {
    if (ends[i] < start || ends[i] > length[0]) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "ends must be ascending and within data");
      return NULL;
    }
    start = ends[i];
  }
  start = 0;
  for (size_t i = 0; i < count; i++) {
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, data + start, ends[i] - start);
    SHA256_Final(out + 32 * i, &ctx);
    start = ends[i];
  }
  return NULL;
}

/*
 * sha256Linked(records, links, out): the SHA-256 of each fixed-size record of `records` in order (the
 * record size is records.length / links.length), digest i to out[32i ..]; when links[i] >= 0 the
 * digest is also copied into `records` at byte offset links[i], which must lie in a later record (a
 * tree's nodes listed children first: each child's digest goes into its parent's preimage before the
 * parent is hashed). One call hashes a whole update's nodes, however they nest.
 */
static napi_value sha256_linked(napi_env env, napi_callback_info info) {
  static const char usage[] = "sha256Linked(records: Uint8Array, links: Int32Array, out: Uint8Array)";
  const napi_typedarray_type want[3] = { napi_uint8_array, napi_int32_array, napi_uint8_array };
  size_t length[3];
  void *bytes[3];
  if (!typed_args(env, info, want, usage, length, bytes)) return NULL;
  uint8_t *records = bytes[0];
  const int32_t *links = bytes[1];
  uint8_t *out = bytes[2];
  size_t count = length[1];
  if (count == 0) return NULL;
  size_t size = length[0] / count;
  if (size * count != length[0] || length[2] / 32 < count) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "records must be links.length records of one size; out 32 bytes per record");
    return NULL;
  }
  for (size_t i = 0; i < count; i++) {
    if (links[i] < 0) continue;
    if ((size_t)links[i] < (i + 1) * size || (size_t)links[i] + 32 > length[0]) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "a link must point 32 bytes into a later record");
      return NULL;
    }
  }
  for (size_t i = 0; i < count; i++) {
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, records + i * size, size);
    SHA256_Final(out + 32 * i, &ctx);
    if (links[i] >= 0) memcpy(records + links[i], out + 32 * i, 32);
  }
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "sha256Many", NAPI_AUTO_LENGTH, sha256_many, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "sha256Many", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "sha256Linked", NAPI_AUTO_LENGTH, sha256_linked, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "sha256Linked", fn) != napi_ok) return NULL;
  return exports;
}
