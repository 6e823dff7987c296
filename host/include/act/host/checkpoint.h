// Training checkpoints: named tensors (parameters, optimizer state, whatever the scheduler
// needs for a bit-exact resume) plus text metadata (position in the run, a fingerprint of the
// model and config it belongs to).
//
// File format (little-endian, version 1):
//   "ACTCKPT1"
//   u32 meta count, then per entry: u32 key length, key, u32 value length, value
//   u32 tensor count, then per tensor: u32 name length, name, u8 dtype (act::DType),
//       u32 rank, i64 dims[rank], u64 byte count, raw bytes
//   u64 FNV-1a hash of every byte before it
// The hash makes a torn or corrupted file an error rather than a silently different resume.
//
// Ownership: a Checkpoint owns its tensors (clones of the trainer's).
// Threading: free functions; no shared state.
#pragma once

#include <map>
#include <string>

#include "act/kernel/tensor.h"

namespace act::host {

struct Checkpoint {
  std::map<std::string, std::string> meta;
  std::map<std::string, Tensor> tensors;
};

// Writes atomically (atomic_file.h). Throws act::Error naming `path`.
void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);
// Throws act::Error naming `path` on a missing, truncated or corrupted file or another format.
Checkpoint load_checkpoint(const std::string& path);

}  // namespace act::host
