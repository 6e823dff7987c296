// ACT_SDK_API marks what libact_sdk.so exports; the library is built with hidden visibility so
// its public surface is exactly what its headers mark.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define ACT_SDK_API __attribute__((visibility("default")))
#else
#define ACT_SDK_API
#endif
