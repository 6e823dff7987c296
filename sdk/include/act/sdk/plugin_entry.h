/* The one C entry point of an ACT plugin.
 *
 * A plugin exports exactly one symbol, the Boost.DLL alias `act_plugin_entry`, which points to
 * a function `const ActPluginEntry* f(void)`. The host reads abi_version first and trusts
 * nothing else in the struct unless it matches, then checks struct_size and toolchain_id.
 * Plugin authors do not fill this struct by hand: ACT_PLUGIN (act/sdk/plugin.h) does.
 *
 * The layout is pinned by static_assert tests (tests/sdk/entry_layout_test.cc). It only ever
 * grows at the end: a newer SDK may append fields and raise struct_size; a host reads the
 * fields it knows and refuses a struct smaller than the ones it needs. A change to anything
 * already here is a new ACT_PLUGIN_ABI_VERSION, which every host refuses until rebuilt.
 *
 * Ownership: every pointer in the struct refers to static data of the plugin, valid while
 * the library is loaded (for ACT hosts: until the process exits).
 * Threading: the entry function and the struct are read-only; any thread may call them.
 *
 * This header is valid C so that the struct can be checked from C as well. */
#ifndef ACT_SDK_PLUGIN_ENTRY_H
#define ACT_SDK_PLUGIN_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#define ACT_PLUGIN_ABI_VERSION 1u
/* The Boost.DLL alias name, as a string for lookups (the identifier is act_plugin_entry). */
#define ACT_PLUGIN_ENTRY_NAME "act_plugin_entry"

#ifdef __cplusplus
extern "C" {
#endif

/* Creates one strategy object and returns it as an `act::sdk::StrategyV1*` converted to
 * void*; the host converts it back with static_cast. Returns NULL on failure and then writes
 * a NUL-terminated reason of at most error_size bytes (truncated) into `error`, which the host
 * owns (it may be NULL when error_size is 0). Must not throw. */
typedef void* (*ActCreateStrategyFn)(char* error, size_t error_size);
/* Destroys an object that create returned, exactly once; NULL is a no-op. Must not throw. */
typedef void (*ActDestroyStrategyFn)(void* strategy);

typedef struct ActPluginEntry {
  uint32_t abi_version;        /* ACT_PLUGIN_ABI_VERSION the plugin was built with */
  uint32_t struct_size;        /* sizeof(ActPluginEntry) as the plugin saw it, in bytes */
  const char* toolchain_id;    /* ACT_SDK_TOOLCHAIN_ID (act/sdk/toolchain.h) */
  const char* name;            /* unique plugin name, e.g. "quant" */
  const char* version;         /* the plugin's own version, free text, e.g. "1.2.0" */
  const char* const* sections; /* config sections it handles, e.g. "QuantAware" */
  size_t section_count;        /* number of entries in `sections` */
  ActCreateStrategyFn create;
  ActDestroyStrategyFn destroy;
} ActPluginEntry;

/* The function the alias points to. */
typedef const ActPluginEntry* (*ActPluginEntryFn)(void);

#ifdef __cplusplus
}
#endif

#endif /* ACT_SDK_PLUGIN_ENTRY_H */
