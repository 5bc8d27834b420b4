#define CATCH_CONFIG_RUNNER
#include <signal.h>

#include <catch2/catch.hpp>

int main(int argc, char* argv[]) {
  // As in the agent: a peer that closes a connection while we write must be an error on that
  // write, not the end of the process.
  ::signal(SIGPIPE, SIG_IGN);
  return Catch::Session().run(argc, argv);
}
