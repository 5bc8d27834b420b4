# CPack: a Debian package of the agent for the architecture being built (amd64 from the native
# presets, arm64 from the aarch64 preset, armhf from the armhf preset). scripts/package builds the
# release and cross presets and runs cpack in each. Depends are listed by hand rather than by
# dpkg-shlibdeps, which cannot read a cross sysroot's shlibs without the target architecture
# added to the build machine's dpkg (which this project avoids, see docs/decisions.md).
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  set(_deb_arch arm64)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^arm")
  set(_deb_arch armhf)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64)$")
  set(_deb_arch amd64)
else()
  set(_deb_arch "${CMAKE_SYSTEM_PROCESSOR}")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME fieldagent)
set(CPACK_PACKAGE_VENDOR "fieldagent")
set(CPACK_PACKAGE_CONTACT "fieldagent maintainers <maintainers@fieldagent.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_DESCRIPTION
    "The offline-first agent that field-service technicians' tablets and in-van gateways run:\n"
    "caches assigned work orders, serves a local REST API and syncs through a durable outbox.")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE "${_deb_arch}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libc6 (>= 2.36), libstdc++6 (>= 12), libgcc-s1, libsqlite3-0 (>= 3.40), libmbedtls14 (>= 2.28), libmbedx509-1 (>= 2.28), libmbedcrypto7 (>= 2.28), libpoconet80 (>= 1.11), libpocofoundation80 (>= 1.11), adduser, ca-certificates")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${CMAKE_CURRENT_SOURCE_DIR}/agent/packaging/debian/postinst;${CMAKE_CURRENT_SOURCE_DIR}/agent/packaging/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Only the agent: no test binaries, no alliance-sim.
set(CPACK_INSTALL_CMAKE_PROJECTS "${CMAKE_BINARY_DIR};${PROJECT_NAME};fieldagent;/")
# The install rules hold one absolute destination (the config under /etc): stage into DESTDIR.
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)
include(CPack)
