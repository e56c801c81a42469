# Warnings and sanitizers as INTERFACE targets: our own targets link them,
# generated code and third-party headers do not inherit -Werror.
add_library(protomodel_warnings INTERFACE)
add_library(protomodel::warnings ALIAS protomodel_warnings)
target_compile_options(protomodel_warnings INTERFACE
  -Wall -Wextra -Werror -Wpedantic -Wshadow -Wnon-virtual-dtor
  -Wold-style-cast -Wcast-align -Wunused
  -Wimplicit-fallthrough)

add_library(protomodel_sanitizers INTERFACE)
add_library(protomodel::sanitizers ALIAS protomodel_sanitizers)
if(PROTOMODEL_SANITIZE OR PROTOMODEL_FUZZ)
  target_compile_options(protomodel_sanitizers INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(protomodel_sanitizers INTERFACE -fsanitize=address,undefined)
endif()
if(PROTOMODEL_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "PROTOMODEL_FUZZ needs clang (CXX=clang++), not ${CMAKE_CXX_COMPILER_ID}")
  endif()
  # Coverage for libFuzzer in everything linking the sanitizers; the fuzz
  # targets themselves link -fsanitize=fuzzer (tests/fuzz).
  target_compile_options(protomodel_sanitizers INTERFACE -fsanitize=fuzzer-no-link)
endif()
