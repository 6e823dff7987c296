# The SDK as a third party sees it (ctest sdk.out_of_tree_plugin), run with cmake -P:
#  1. install this build (act, libact_kernel, libact_sdk, headers, package config) into a
#     fresh prefix under WORK_DIR;
#  2. configure and build tests/sdk/out_of_tree_plugin against it with find_package(act),
#     same compiler and generator;
#  3. the installed `act plugins --plugin-dir <its build dir>` must list the plugin;
#  4. after installing the plugin into the prefix, the installed `act plugins` must find it
#     in the install's plugin folder with no flag at all (the install is relocatable);
#  5. the installed `act compress` runs the plugin's section on MODEL and its report line
#     reaches report.json.
# Inputs: ACT_BUILD_DIR PLUGIN_SOURCE_DIR WORK_DIR CXX_COMPILER CXX_LAUNCHER GENERATOR
#         BUILD_TYPE MODEL
cmake_minimum_required(VERSION 3.25)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

function(expect_listed text where)
  if(NOT text MATCHES "hello-out-of-tree 0\\.0\\.1 \\(plugin ABI 1\\)")
    message(FATAL_ERROR "the plugin is not listed (${where}):\n${text}")
  endif()
  if(NOT text MATCHES "sections: HelloOutOfTree")
    message(FATAL_ERROR "its section is not listed (${where}):\n${text}")
  endif()
  if(text MATCHES "skipped")
    message(FATAL_ERROR "something was skipped (${where}):\n${text}")
  endif()
endfunction()

set(prefix ${WORK_DIR}/prefix)
set(build ${WORK_DIR}/build)
file(REMOVE_RECURSE ${WORK_DIR})

run(${CMAKE_COMMAND} --install ${ACT_BUILD_DIR} --prefix ${prefix})

set(launcher)
if(CXX_LAUNCHER)
  set(launcher -DCMAKE_CXX_COMPILER_LAUNCHER=${CXX_LAUNCHER})
endif()
run(${CMAKE_COMMAND} -S ${PLUGIN_SOURCE_DIR} -B ${build} -G ${GENERATOR}
    -DCMAKE_CXX_COMPILER=${CXX_COMPILER} ${launcher} -DCMAKE_BUILD_TYPE=${BUILD_TYPE}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_INSTALL_PREFIX=${prefix}
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
run(${CMAKE_COMMAND} --build ${build})

set(act ${prefix}/bin/act)
run(${CMAKE_COMMAND} -E env --unset=ACT_PLUGIN_PATH ${act} plugins --plugin-dir ${build})
expect_listed("${out}" "--plugin-dir ${build}")
if(NOT out MATCHES "path: ${build}/hello_plugin\\.so")
  message(FATAL_ERROR "the plugin's path is not listed:\n${out}")
endif()

run(${CMAKE_COMMAND} --install ${build})
run(${CMAKE_COMMAND} -E env --unset=ACT_PLUGIN_PATH ${act} plugins)
expect_listed("${out}" "install folder")
if(NOT out MATCHES "path: ${prefix}/[^\n]*/act/plugins/hello_plugin\\.so")
  message(FATAL_ERROR "the plugin is not listed from the install's plugin folder:\n${out}")
endif()

file(WRITE ${WORK_DIR}/hello.yaml "HelloOutOfTree:\n  greeting: hi from outside\n")
run(${CMAKE_COMMAND} -E env --unset=ACT_PLUGIN_PATH ${act} compress --config ${WORK_DIR}/hello.yaml
    --model ${MODEL} --save-dir ${WORK_DIR}/out)
file(READ ${WORK_DIR}/out/report.json report)
if(NOT report MATCHES "\"plugin\": \"hello-out-of-tree\", \"report\": {\"greeting\": \"hi from outside\"}")
  message(FATAL_ERROR "act compress did not run the out-of-tree plugin:\n${report}")
endif()
if(NOT EXISTS ${WORK_DIR}/out/model.onnx)
  message(FATAL_ERROR "act compress wrote no model")
endif()

file(REMOVE_RECURSE ${WORK_DIR})
message(STATUS "out-of-tree plugin built against ${prefix} and listed by the installed act")
