// The toolchain id a plugin is stamped with and the host compares byte for byte.
//
// The strategy interface is C++ and hands over kernel types (act::Graph, act::Tensor), so a
// plugin must share the host's C++ ABI: compiler family and major version, standard library
// and its ABI mode, and the ACT major.minor version whose kernel headers it was compiled
// against. The id is deliberately conservative; a mismatch is refused with both ids named.
#pragma once

#include <version>  // defines the standard library's identifying macros

#include "act/sdk/version.h"

#define ACT_SDK_STRINGIZE_TOKENS(x) #x
#define ACT_SDK_STR(x) ACT_SDK_STRINGIZE_TOKENS(x)

#if defined(__clang__)
#define ACT_SDK_COMPILER_ID "clang-" ACT_SDK_STR(__clang_major__)
#elif defined(__GNUC__)
#define ACT_SDK_COMPILER_ID "gcc-" ACT_SDK_STR(__GNUC__)
#else
#define ACT_SDK_COMPILER_ID "unknown-compiler"
#endif

#if defined(_LIBCPP_VERSION)
#define ACT_SDK_STDLIB_ID "libc++"
#elif defined(__GLIBCXX__) && _GLIBCXX_USE_CXX11_ABI
#define ACT_SDK_STDLIB_ID "libstdc++-cxx11"
#elif defined(__GLIBCXX__)
#define ACT_SDK_STDLIB_ID "libstdc++-cow"
#else
#define ACT_SDK_STDLIB_ID "unknown-stdlib"
#endif

// _GLIBCXX_DEBUG changes the layout of every standard container.
#if defined(_GLIBCXX_DEBUG)
#define ACT_SDK_STDLIB_MODE "-debug"
#else
#define ACT_SDK_STDLIB_MODE ""
#endif

// e.g. "gcc-12/libstdc++-cxx11/act-0.1"
#define ACT_SDK_TOOLCHAIN_ID                                    \
  ACT_SDK_COMPILER_ID "/" ACT_SDK_STDLIB_ID ACT_SDK_STDLIB_MODE \
                      "/act-" ACT_SDK_STR(ACT_VERSION_MAJOR) "." ACT_SDK_STR(ACT_VERSION_MINOR)

namespace act::sdk {

inline constexpr const char* kToolchainId = ACT_SDK_TOOLCHAIN_ID;

}  // namespace act::sdk
