// Status: what every call across the plugin boundary returns instead of throwing.
//
// Ownership: a failed Status points to a message owned by the object whose method returned
// it. The message stays valid until the next call on that same object (or its destruction),
// so a caller copies it before calling again. A Status never owns memory itself.
// Layout: one pointer, pinned by tests/sdk/entry_layout_test.cc; passed by value.
#pragma once

namespace act::sdk {

struct Status {
  // nullptr: success. Otherwise a NUL-terminated, human-readable reason that names the
  // offending key, value or node.
  const char* error = nullptr;

  constexpr bool ok() const noexcept { return error == nullptr; }
  static constexpr Status success() noexcept { return Status{}; }
  // A null message still reads as a failure.
  static constexpr Status failure(const char* message) noexcept {
    return Status{message != nullptr ? message : "unknown error"};
  }
};

}  // namespace act::sdk
