// main() of test_ops_conformance: GoogleTest plus the support-matrix export
// (--support-matrix=<path> or DS4_SUPPORT_MATRIX=<path>; .md → markdown table, else CSV).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "conformance.h"

namespace {
class MatrixWriter : public ::testing::Environment {
public:
    explicit MatrixWriter(std::string path) : path_(std::move(path)) {}
    void TearDown() override { ds4::conformance::write_support_matrix(path_); }

private:
    std::string path_;
};
}  // namespace

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    std::string path;
    if (const char* env = std::getenv("DS4_SUPPORT_MATRIX")) path = env;
    for (int i = 1; i < argc; ++i)
        if (std::strncmp(argv[i], "--support-matrix=", 17) == 0) path = argv[i] + 17;
    if (!path.empty()) ::testing::AddGlobalTestEnvironment(new MatrixWriter(path));
    return RUN_ALL_TESTS();
}
