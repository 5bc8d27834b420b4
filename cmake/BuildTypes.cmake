# Build types beyond CMake's own: sanitizers are build types, never hand-edited flags.
#   Asan  — AddressSanitizer + UndefinedBehaviorSanitizer, debug info, -O1
#   Tsan  — ThreadSanitizer, debug info, -O1
#   Release — -O2, sections split so the linker drops what is unused (size-aware)
# g++ 12 reports false -Wmaybe-uninitialized inside <regex> and <variant> once the sanitizers
# instrument them; with warnings as errors that would fail the build, so it is off for these two.
set(_fa_asan "-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all -Wno-maybe-uninitialized")
set(_fa_tsan "-O1 -g -fno-omit-frame-pointer -fsanitize=thread -Wno-maybe-uninitialized")
# Plain variables, not cache entries: project() creates empty cache entries for a custom build
# type, which a non-FORCEd cache default would never replace (the sanitizers silently off).
foreach(lang C CXX)
  set(CMAKE_${lang}_FLAGS_ASAN "${_fa_asan}")
  set(CMAKE_${lang}_FLAGS_TSAN "${_fa_tsan}")
  set(CMAKE_${lang}_FLAGS_RELEASE "-O2 -DNDEBUG -ffunction-sections -fdata-sections")
endforeach()
foreach(kind EXE SHARED MODULE)
  set(CMAKE_${kind}_LINKER_FLAGS_ASAN "-fsanitize=address,undefined")
  set(CMAKE_${kind}_LINKER_FLAGS_TSAN "-fsanitize=thread")
  set(CMAKE_${kind}_LINKER_FLAGS_RELEASE "-Wl,--gc-sections")
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
