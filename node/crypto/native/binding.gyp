{
  "targets": [
    {
      "target_name": "brop_native",
      "sources": ["sha256_many.c"],
      "cflags": ["-O2", "-Wno-deprecated-declarations"]
    }
  ]
}
