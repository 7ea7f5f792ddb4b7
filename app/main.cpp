// mnist: the command-line tool. Subcommands are registered here; each lives in its own file.
#include <cstdio>

int main() {
  std::puts("mnist: not yet");
  return 0;
}
