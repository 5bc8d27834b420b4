# Shared by the per-target toolchain files: Debian's cross compilers
# (crossbuild-essential-<arch>), a sysroot of the target's Debian packages made by
# scripts/make-sysroot, and qemu-user as the emulator so ctest runs the suites.
set(CMAKE_C_COMPILER ${FIELDAGENT_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${FIELDAGENT_TRIPLET}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${FIELDAGENT_TRIPLET})

# The sysroot lives in the build tree unless FIELDAGENT_SYSROOT_DIR says otherwise. The
# toolchain file is read again for every try_compile, so the value travels with it.
if(NOT FIELDAGENT_SYSROOT_DIR)
  if(DEFINED ENV{FIELDAGENT_SYSROOT_DIR})
    set(FIELDAGENT_SYSROOT_DIR "$ENV{FIELDAGENT_SYSROOT_DIR}")
  else()
    set(FIELDAGENT_SYSROOT_DIR "${CMAKE_BINARY_DIR}/sysroot-${FIELDAGENT_DEB_ARCH}")
  endif()
endif()
set(ENV{FIELDAGENT_SYSROOT_DIR} "${FIELDAGENT_SYSROOT_DIR}")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES FIELDAGENT_SYSROOT_DIR)
set(_fa_sysroot "${FIELDAGENT_SYSROOT_DIR}/sysroot")

if(NOT EXISTS "${_fa_sysroot}/.fieldagent-sysroot")
  message(STATUS "Assembling the ${FIELDAGENT_DEB_ARCH} sysroot in ${FIELDAGENT_SYSROOT_DIR}")
  execute_process(
    COMMAND "${CMAKE_CURRENT_LIST_DIR}/../scripts/make-sysroot" ${FIELDAGENT_DEB_ARCH} "${FIELDAGENT_SYSROOT_DIR}"
    RESULT_VARIABLE _fa_rc)
  if(NOT _fa_rc EQUAL 0)
    message(FATAL_ERROR "scripts/make-sysroot ${FIELDAGENT_DEB_ARCH} failed")
  endif()
endif()

# Not CMAKE_SYSROOT: the C library comes from the cross toolchain (/usr/<triplet>), the rest
# from the unpacked packages, so both are search roots.
set(CMAKE_FIND_ROOT_PATH "${_fa_sysroot}" "/usr/${FIELDAGENT_TRIPLET}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(_fa_libdir "${_fa_sysroot}/usr/lib/${FIELDAGENT_TRIPLET}")
# Libraries needed by the libraries we link (libPocoNet -> libPocoFoundation -> libpcre ...).
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,-rpath-link,${_fa_libdir}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-Wl,-rpath-link,${_fa_libdir}")

set(CMAKE_CROSSCOMPILING_EMULATOR
    ${FIELDAGENT_QEMU} -L /usr/${FIELDAGENT_TRIPLET} -E LD_LIBRARY_PATH=${_fa_libdir})
