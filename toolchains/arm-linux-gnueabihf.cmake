# 32-bit ARMv7 gateways (Debian armhf).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(FIELDAGENT_DEB_ARCH armhf)
set(FIELDAGENT_TRIPLET arm-linux-gnueabihf)
set(FIELDAGENT_QEMU qemu-arm)
include("${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake")
