# act_add_plugin(<target> [SOURCES] <file>... [OUTPUT_DIRECTORY <dir>] [INSTALL])
#
# Builds an ACT plugin the one way ACT supports, in-tree (sdk/CMakeLists.txt includes this
# file) and out of tree (find_package(act) does):
# - a MODULE library named <target>.so that links act::sdk, and through it the shared
#   act::kernel (never a static copy: two copies of the kernel's globals is the classic
#   plugin bug);
# - hidden visibility plus a version script (act_plugin.map): the act_plugin_entry alias is
#   its only exported symbol;
# - -Wl,--no-undefined: a missing library fails the link, not the user's dlopen.
# OUTPUT_DIRECTORY defaults to ACT_PLUGIN_OUTPUT_DIRECTORY when set (in-tree: the build's
# plugin folder, which `act` searches), else the current binary dir. INSTALL installs the
# plugin into ACT_PLUGIN_INSTALL_DIR, the folder an installed `act` searches.
function(act_add_plugin target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "INSTALL" "OUTPUT_DIRECTORY" "SOURCES")
  set(sources ${ARG_SOURCES} ${ARG_UNPARSED_ARGUMENTS})
  if(NOT sources)
    message(FATAL_ERROR "act_add_plugin(${target}): no sources")
  endif()
  if(ARG_OUTPUT_DIRECTORY)
    set(output_dir ${ARG_OUTPUT_DIRECTORY})
  elseif(ACT_PLUGIN_OUTPUT_DIRECTORY)
    set(output_dir ${ACT_PLUGIN_OUTPUT_DIRECTORY})
  else()
    set(output_dir ${CMAKE_CURRENT_BINARY_DIR})
  endif()
  set(map ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/act_plugin.map)

  add_library(${target} MODULE ${sources})
  target_link_libraries(${target} PRIVATE act::sdk)
  target_compile_features(${target} PRIVATE cxx_std_20)
  target_link_options(${target} PRIVATE "LINKER:--no-undefined" "LINKER:--version-script=${map}")
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${output_dir}
    LINK_DEPENDS ${map}
    # Installed next to libact_kernel.so and libact_sdk.so: <libdir>/act/plugins.
    INSTALL_RPATH "$ORIGIN/../..")
  if(ARG_INSTALL)
    install(TARGETS ${target} LIBRARY DESTINATION ${ACT_PLUGIN_INSTALL_DIR})
  endif()
endfunction()
