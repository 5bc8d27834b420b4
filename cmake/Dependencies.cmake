# Every dependency comes from Debian 12's packages (scripts/install-deps installs them; for
# cross builds scripts/make-sysroot unpacks the target's packages into a sysroot).
find_package(Threads REQUIRED)
find_package(Poco 1.11 REQUIRED COMPONENTS Foundation Net Util JSON XML)
find_package(SQLite3 REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)

# Debian's libmbedtls-dev (2.28) ships no CMake package; find the three libraries by hand.
find_path(MBEDTLS_INCLUDE_DIR mbedtls/ssl.h REQUIRED)
find_library(MBEDTLS_LIBRARY mbedtls REQUIRED)
find_library(MBEDX509_LIBRARY mbedx509 REQUIRED)
find_library(MBEDCRYPTO_LIBRARY mbedcrypto REQUIRED)
if(NOT TARGET fieldagent::mbedtls)
  add_library(fieldagent_mbedtls INTERFACE)
  add_library(fieldagent::mbedtls ALIAS fieldagent_mbedtls)
  target_include_directories(fieldagent_mbedtls SYSTEM INTERFACE "${MBEDTLS_INCLUDE_DIR}")
  target_link_libraries(fieldagent_mbedtls INTERFACE
    "${MBEDTLS_LIBRARY}" "${MBEDX509_LIBRARY}" "${MBEDCRYPTO_LIBRARY}")
endif()

if(FIELDAGENT_BUILD_TESTS)
  find_package(Catch2 2.13 REQUIRED)
endif()
