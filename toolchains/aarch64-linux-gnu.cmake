# 64-bit ARM tablets and in-van gateways (Debian arm64).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(FIELDAGENT_DEB_ARCH arm64)
set(FIELDAGENT_TRIPLET aarch64-linux-gnu)
set(FIELDAGENT_QEMU qemu-aarch64)
include("${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake")
