# Install rules: headers, both libraries, the tools, the CMake package
# (find_package(numaslab) -> numaslab::numaslab, numaslab::numaslab_static,
# numaslab::malloc when built), numaslab.pc, the man pages and the licence;
# and a Debian package through CPack (cpack -G DEB).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(NUMASLAB_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/numaslab)

install(DIRECTORY include/numaslab DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(TARGETS numaslab_shared EXPORT numaslab-targets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib NAMELINK_COMPONENT dev)
install(TARGETS numaslab EXPORT numaslab-targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
# The malloc replacement (src/malloc/) installs with the library when it is
# built: a target named numaslab_malloc, exported as numaslab::malloc.
if(TARGET numaslab_malloc)
  set_target_properties(numaslab_malloc PROPERTIES EXPORT_NAME malloc)
  install(TARGETS numaslab_malloc EXPORT numaslab-targets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
endif()
foreach(tool numaslab-stress numaslab-top numaslab-slabinfo numaslab-bench)
  if(TARGET ${tool})
    install(TARGETS ${tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
  endif()
endforeach()

install(EXPORT numaslab-targets NAMESPACE numaslab:: DESTINATION ${NUMASLAB_CMAKE_DIR}
  COMPONENT dev)
configure_package_config_file(cmake/numaslab-config.cmake.in
  ${PROJECT_BINARY_DIR}/numaslab-config.cmake INSTALL_DESTINATION ${NUMASLAB_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/numaslab-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/numaslab-config.cmake
              ${PROJECT_BINARY_DIR}/numaslab-config-version.cmake
  DESTINATION ${NUMASLAB_CMAKE_DIR} COMPONENT dev)

# pkg-config: "pkg-config --libs numaslab" links the shared library;
# "--static" adds what libnumaslab.a needs (C++ runtime, threads).
# Relocatable: the prefix is found from where the file lies (${pcfiledir}),
# so the same file serves an install prefix and the Debian package.
file(RELATIVE_PATH NUMASLAB_PC_UP /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" NUMASLAB_PC_UP "${NUMASLAB_PC_UP}")
configure_file(cmake/numaslab.pc.in ${PROJECT_BINARY_DIR}/numaslab.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/numaslab.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

install(FILES LICENSE README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT lib)

# Debian package: cpack -G DEB in the build directory (scripts/package-deb.sh).
set(CPACK_PACKAGE_NAME numaslab)
set(CPACK_PACKAGE_VENDOR "numaslab")
set(CPACK_PACKAGE_CONTACT "numaslab developers <numaslab@invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_DEB_COMPONENT_INSTALL OFF)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
# rseq registration (2.35); packed relative relocations need 2.36.
if(NUMASLAB_HAVE_PACK_RELOCS)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6 (>= 2.36)")
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6 (>= 2.35)")
endif()
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "gnuplot-nox")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "NUMA-aware slab allocator for Linux\n numaslab re-creates the Linux SLAB allocator in user space: object caches\n with constructors, per-CPU and per-node caches, kmalloc size classes, CPU\n hotplug handling, reaping and slabinfo statistics. This package holds the\n shared and static libraries, headers, CMake package, pkg-config file, man\n pages and the tools numaslab-stress, numaslab-top and numaslab-slabinfo.")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES OFF)
include(CPack)
