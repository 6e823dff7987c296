# Every third-party dependency is found here, and only here. The Debian packages that provide
# them are listed in scripts/debian-packages.txt, which scripts/setup.sh installs.
find_package(Eigen3 3.4 REQUIRED NO_MODULE)
find_package(Protobuf REQUIRED)
find_package(ONNX REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS filesystem program_options)
find_package(spdlog REQUIRED)
find_package(PNG REQUIRED)
find_package(JPEG REQUIRED)
find_package(ZLIB REQUIRED)
find_package(Threads REQUIRED)
# Optional: only gemm_bench uses it, to let Eigen's GEMM use both cores for comparison.
find_package(OpenMP COMPONENTS CXX)

# OpenBLAS (pthread flavour) carries the FP32 GEMM: Eigen's own GEMM reaches ~63% of FMA peak
# here, OpenBLAS ~88% (docs/benchmarks.md).
find_path(OPENBLAS_INCLUDE_DIR cblas.h
          PATHS /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/openblas
          NO_DEFAULT_PATH)
find_library(OPENBLAS_LIBRARY NAMES openblas
             PATHS /usr/lib/x86_64-linux-gnu/openblas-pthread NO_DEFAULT_PATH)
if(NOT OPENBLAS_INCLUDE_DIR OR NOT OPENBLAS_LIBRARY)
  message(FATAL_ERROR "OpenBLAS not found: install libopenblas-dev (scripts/setup.sh does)")
endif()
add_library(act_openblas INTERFACE)
target_include_directories(act_openblas INTERFACE ${OPENBLAS_INCLUDE_DIR})
target_link_libraries(act_openblas INTERFACE ${OPENBLAS_LIBRARY})

# The CUDA toolkit is detected, never required; the CUDA backend is its own issue.
include(CheckLanguage)
check_language(CUDA)
if(CMAKE_CUDA_COMPILER)
  set(ACT_CUDA_FOUND ON)
  message(STATUS "ACT: CUDA toolkit found at ${CMAKE_CUDA_COMPILER} (backend not built yet)")
else()
  set(ACT_CUDA_FOUND OFF)
  message(STATUS "ACT: no CUDA toolkit; CPU only")
endif()

if(ACT_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
