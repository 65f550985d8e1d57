# devrt's CMake package, shipped in the wheel (devrt/share/cmake/devrt) for
# native backends built against the installed devrt. Find it with
#
#   execute_process(COMMAND "${Python_EXECUTABLE}" -c
#                   "import devrt; print(devrt.get_cmake_dir())"
#                   OUTPUT_VARIABLE devrt_DIR OUTPUT_STRIP_TRAILING_WHITESPACE)
#   find_package(devrt CONFIG REQUIRED)
#
# It defines
#   devrt::core          the C ABI headers (devrt/c_api.h) and libdevrt_core,
#                        the one registry of the process, which every native
#                        backend links;
#   devrt_add_backend(target sources...)
#                        a backend library (a MODULE named lib<target>) that
#                        links devrt::core and exports only devrt_plugin_init;
#   devrt_INCLUDE_DIR, devrt_LIBRARY, devrt_ABI_VERSION.
get_filename_component(_devrt_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
set(devrt_INCLUDE_DIR "${_devrt_prefix}/include")
set(devrt_LIBRARY
    "${_devrt_prefix}/lib/${CMAKE_SHARED_LIBRARY_PREFIX}devrt_core${CMAKE_SHARED_LIBRARY_SUFFIX}")
file(STRINGS "${devrt_INCLUDE_DIR}/devrt/c_api.h" _devrt_abi
     REGEX "^#define DEVRT_ABI_VERSION ")
string(REGEX REPLACE "^#define DEVRT_ABI_VERSION ([0-9]+).*" "\\1" devrt_ABI_VERSION
       "${_devrt_abi}")

if(NOT TARGET devrt::core)
  add_library(devrt::core SHARED IMPORTED)
  # Note: the backend records libdevrt_core by its soname and no path. devrt
  # has loaded that library before it opens any backend, so the dependency
  # resolves to the process's one copy, wherever either package is installed.
  set_target_properties(devrt::core PROPERTIES
    IMPORTED_LOCATION "${devrt_LIBRARY}"
    IMPORTED_SONAME "${CMAKE_SHARED_LIBRARY_PREFIX}devrt_core${CMAKE_SHARED_LIBRARY_SUFFIX}"
    INTERFACE_INCLUDE_DIRECTORIES "${devrt_INCLUDE_DIR}")
endif()

function(devrt_add_backend target)
  add_library(${target} MODULE ${ARGN})
  target_link_libraries(${target} PRIVATE devrt::core)
  set_target_properties(${target} PROPERTIES
    PREFIX "lib"
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
endfunction()
