// Files that appear whole or not at all: models, arrays, checkpoints and reports are written
// to a temporary file in the target's folder, flushed to disk, optionally checked, then
// renamed over the target. A crash or a failed check leaves the old file (or none), never a
// half-written one, and never a stray temporary.
//
// Threading: independent calls may run concurrently (each uses its own mkstemp name).
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace act::host {

// Writes `bytes` to `path` atomically. `check`, when given, receives the temporary file's path
// after it is complete and may throw to refuse it (the target is then left untouched). A new
// file gets mode 0644; a replaced one keeps its mode. Throws act::Error naming `path`.
void write_file_atomically(const std::string& path, std::string_view bytes,
                           const std::function<void(const std::string&)>& check = {});

// The whole file as bytes. Throws act::Error naming `path` when it is missing, a directory or
// unreadable.
std::string read_whole_file(const std::string& path);

}  // namespace act::host
