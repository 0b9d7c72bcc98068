# cmake/libtdspipe.cmake — libtdspipe for embedders and `cmake --install`.
#
# The per-module static libraries (tds, tdsnet, tdssink, tdspipe_pipe)
# serve the tests and the tdspipe binary, which links OpenSSL, libuv,
# zlib and SQLite archives and needs only the C library. Programs that
# embed tdspipe get two libraries built here from the same sources, once
# more, compiled position-independent with hidden visibility, so only
# what the public headers declare inside their
# `#pragma GCC visibility push(default)` is exported:
#   libtdspipe.so (SONAME libtdspipe.so.0): links the system's shared
#     OpenSSL, libuv, zlib and SQLite (Debian's archives are not PIC);
#   libtdspipe.a: the same objects; its dependencies are in tdspipe.pc's
#     Requires.private/Libs.private and the CMake package's link items.
# Installed: include/tdspipe/ (public headers only, never *_int.h),
# lib/libtdspipe.{so*,a}, lib/pkgconfig/tdspipe.pc,
# lib/cmake/tdspipe/ (find_package(tdspipe)), bin/tdspipe.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

find_path(TDSPIPE_UV_INCLUDE uv.h REQUIRED)
find_path(TDSPIPE_CJSON_INCLUDE cjson/cJSON.h REQUIRED)
find_path(TDSPIPE_SQLITE_INCLUDE sqlite3.h REQUIRED)
find_path(TDSPIPE_ZLIB_INCLUDE zlib.h REQUIRED)

# Every .c of the four library modules; pipe/ grows while it is written.
file(GLOB TDSPIPE_LIB_SOURCES CONFIGURE_DEPENDS
  ${CMAKE_SOURCE_DIR}/tds/*.c ${CMAKE_SOURCE_DIR}/net/*.c ${CMAKE_SOURCE_DIR}/net/entra/*.c
  ${CMAKE_SOURCE_DIR}/sink/*.c ${CMAKE_SOURCE_DIR}/pipe/*.c)
add_library(tdspipe_objects OBJECT ${TDSPIPE_LIB_SOURCES})
# No link-time optimisation here: an installed archive of GCC's LTO
# bytecode would only link with the very same compiler.
set_target_properties(tdspipe_objects PROPERTIES
  POSITION_INDEPENDENT_CODE ON
  C_VISIBILITY_PRESET hidden
  INTERPROCEDURAL_OPTIMIZATION OFF)
target_include_directories(tdspipe_objects PRIVATE
  ${CMAKE_SOURCE_DIR}/tds ${CMAKE_SOURCE_DIR}/net ${CMAKE_SOURCE_DIR}/net/entra ${CMAKE_SOURCE_DIR}/sink
  ${CMAKE_SOURCE_DIR}/pipe ${TDSPIPE_GENERATED_DIR} ${OPENSSL_INCLUDE_DIR}
  ${TDSPIPE_UV_INCLUDE} ${TDSPIPE_CJSON_INCLUDE} ${TDSPIPE_SQLITE_INCLUDE}
  ${TDSPIPE_ZLIB_INCLUDE})

# Plain library names: the linker takes the shared libraries for the .so,
# and the exported static target hands the same names to its users.
set(TDSPIPE_LIB_DEPS ssl crypto uv z sqlite3 ${CMAKE_DL_LIBS} pthread m)

add_library(tdspipe_shared SHARED $<TARGET_OBJECTS:tdspipe_objects>)
add_library(tdspipe_static STATIC $<TARGET_OBJECTS:tdspipe_objects>)
foreach(t tdspipe_shared tdspipe_static)
  set_target_properties(${t} PROPERTIES OUTPUT_NAME tdspipe
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lib
    ARCHIVE_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lib)
  target_link_libraries(${t} PRIVATE ${TDSPIPE_LIB_DEPS})
  target_include_directories(${t} INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
endforeach()
set_target_properties(tdspipe_shared PROPERTIES EXPORT_NAME tdspipe
  VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})
set_target_properties(tdspipe_static PROPERTIES EXPORT_NAME tdspipe_static)
# A symbol the library uses but does not define fails here, not in the
# embedder's link. (Sanitizer runtimes are resolved only at run time.)
if(NOT TDSPIPE_SANITIZE)
  target_link_options(tdspipe_shared PRIVATE -Wl,--no-undefined -Wl,--gc-sections)
endif()

# ----------------------------------------------------------------- install
set(TDSPIPE_PUBLIC_HEADERS
  ${CMAKE_SOURCE_DIR}/tds/tds.h ${CMAKE_SOURCE_DIR}/net/net.h
  ${CMAKE_SOURCE_DIR}/sink/sink.h ${CMAKE_SOURCE_DIR}/pipe/pipe.h
  ${CMAKE_SOURCE_DIR}/pipe/tdspipe.h ${TDSPIPE_GENERATED_DIR}/tdspipe_version.h)
install(FILES ${TDSPIPE_PUBLIC_HEADERS} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tdspipe)
install(TARGETS tdspipe_shared tdspipe_static EXPORT tdspipeTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
if(TARGET tdspipe)
  install(TARGETS tdspipe RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

set(TDSPIPE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/tdspipe)
install(EXPORT tdspipeTargets NAMESPACE tdspipe:: DESTINATION ${TDSPIPE_CMAKE_DIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/tdspipeConfig.cmake.in
  ${CMAKE_BINARY_DIR}/cmake/tdspipeConfig.cmake INSTALL_DESTINATION ${TDSPIPE_CMAKE_DIR})
# 0.x: a new minor version may change the API.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake/tdspipeConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/cmake/tdspipeConfig.cmake
  ${CMAKE_BINARY_DIR}/cmake/tdspipeConfigVersion.cmake DESTINATION ${TDSPIPE_CMAKE_DIR})

# tdspipe.pc finds its prefix from its own directory: "../.." up from
# lib/pkgconfig (one more for a multiarch libdir).
string(REGEX REPLACE "[^/]+" ".." TDSPIPE_PC_UP "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
configure_file(${CMAKE_SOURCE_DIR}/cmake/tdspipe.pc.in ${CMAKE_BINARY_DIR}/tdspipe.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/tdspipe.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
