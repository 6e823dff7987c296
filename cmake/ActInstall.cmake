# Install rules: the act program, the shared kernel and SDK with their headers, the plugin
# folder, and the CMake package (find_package(act)) out-of-tree plugins build against.
# The install is relocatable: `act` finds its libraries and plugins relative to itself, so
# `cmake --install build --prefix /anywhere` works (the SDK's out-of-tree test does that).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(ACT_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/act)
file(RELATIVE_PATH act_lib_from_bin ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}
     ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR})

# Keep the link folders outside the system ones (Debian's openblas-pthread) in the installed
# RUNPATHs, and add the installed library folder.
set_target_properties(act_kernel PROPERTIES EXPORT_NAME kernel INSTALL_RPATH_USE_LINK_PATH ON)
set_target_properties(act_sdk PROPERTIES INSTALL_RPATH "$ORIGIN" INSTALL_RPATH_USE_LINK_PATH ON)
set_target_properties(act PROPERTIES INSTALL_RPATH "$ORIGIN/${act_lib_from_bin}"
                                     INSTALL_RPATH_USE_LINK_PATH ON)

install(TARGETS act_kernel act_sdk EXPORT actTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS act EXPORT actTargets RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/kernel/include/act/kernel
                  ${PROJECT_SOURCE_DIR}/sdk/include/act/sdk
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/act FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/sdk/include/act/sdk/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/act/sdk)
install(DIRECTORY DESTINATION ${ACT_PLUGIN_INSTALL_DIR})

install(EXPORT actTargets NAMESPACE act:: DESTINATION ${ACT_INSTALL_CMAKEDIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/sdk/cmake/actConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/actConfig.cmake
                              INSTALL_DESTINATION ${ACT_INSTALL_CMAKEDIR}
                              PATH_VARS ACT_PLUGIN_INSTALL_DIR)
# Plugins carry the act major.minor in their toolchain id, so only those versions match.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/actConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/actConfig.cmake ${PROJECT_BINARY_DIR}/actConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/sdk/cmake/actPlugin.cmake
              ${PROJECT_SOURCE_DIR}/sdk/cmake/act_plugin.map
        DESTINATION ${ACT_INSTALL_CMAKEDIR})
