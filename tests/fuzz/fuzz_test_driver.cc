// Runs a libFuzzer target without libFuzzer (g++ builds, `bazel test`):
// every file of the seed corpus, plus a fixed number of deterministic
// pseudo-random inputs, through LLVMFuzzerTestOneInput. The target aborts on
// any broken invariant, failing the test. Coverage-guided fuzzing is
// `bazel run --config=fuzz //tests/fuzz:<target>` (see README.md).

#include <dirent.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  int runs = 0;
  for (int i = 1; i < argc; ++i) {
    DIR* dir = opendir(argv[i]);
    if (dir == nullptr) {
      std::fprintf(stderr, "cannot open corpus %s\n", argv[i]);
      return 1;
    }
    while (dirent* e = readdir(dir)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream in(std::string(argv[i]) + "/" + e->d_name, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      const std::string input = ss.str();
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
      ++runs;
    }
    closedir(dir);
  }
  std::mt19937 rng(12345);
  const char alphabet[] = {'a', 'b', '\n', '\r', '\0', '\xff', 'x', '\n'};
  for (int i = 0; i < 2000; ++i) {
    std::string input(2 + rng() % 600, '\0');
    input[0] = static_cast<char>(rng() % 40);
    input[1] = static_cast<char>(rng());
    for (size_t j = 2; j < input.size(); ++j) input[j] = alphabet[rng() % sizeof(alphabet)];
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    ++runs;
  }
  std::printf("%d inputs passed\n", runs);
  return runs > 0 ? 0 : 1;
}
