# Build types beyond CMake's own: sanitizers are build types, never hand-edited flags.
#   Asan  — AddressSanitizer + UndefinedBehaviorSanitizer, debug info, -O1
#   Tsan  — ThreadSanitizer, debug info, -O1
#   Release — -O2, sections split so the linker drops what is unused (size-aware)
set(_fa_asan "-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all")
set(_fa_tsan "-O1 -g -fno-omit-frame-pointer -fsanitize=thread")
foreach(lang C CXX)
  set(CMAKE_${lang}_FLAGS_ASAN "${_fa_asan}" CACHE STRING "Flags for the Asan build type")
  set(CMAKE_${lang}_FLAGS_TSAN "${_fa_tsan}" CACHE STRING "Flags for the Tsan build type")
  set(CMAKE_${lang}_FLAGS_RELEASE "-O2 -DNDEBUG -ffunction-sections -fdata-sections"
      CACHE STRING "Flags for the Release build type" FORCE)
endforeach()
foreach(kind EXE SHARED MODULE)
  set(CMAKE_${kind}_LINKER_FLAGS_ASAN "-fsanitize=address,undefined" CACHE STRING "")
  set(CMAKE_${kind}_LINKER_FLAGS_TSAN "-fsanitize=thread" CACHE STRING "")
  set(CMAKE_${kind}_LINKER_FLAGS_RELEASE "-Wl,--gc-sections" CACHE STRING "" FORCE)
endforeach()

get_property(_fa_multi GLOBAL PROPERTY GENERATOR_IS_MULTI_CONFIG)
if(NOT _fa_multi)
  set(_fa_types Debug Release RelWithDebInfo MinSizeRel Asan Tsan)
  if(NOT CMAKE_BUILD_TYPE)
    set(CMAKE_BUILD_TYPE Debug CACHE STRING "Build type" FORCE)
  endif()
  set_property(CACHE CMAKE_BUILD_TYPE PROPERTY STRINGS ${_fa_types})
  if(NOT CMAKE_BUILD_TYPE IN_LIST _fa_types)
    message(FATAL_ERROR "Unknown CMAKE_BUILD_TYPE '${CMAKE_BUILD_TYPE}' (one of: ${_fa_types})")
  endif()
endif()
