// Fast synthetic experts (SyntheticSpec::fast_experts, used for the full-width bench models):
// the dequantized weights have the deviation of the float generator, the bytes do not depend
// on the thread count, and every other tensor is byte-identical to the default writer.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "model/layout.h"
#include "model/synthetic.h"
#include "quant/quant.h"

namespace ds4::model {
namespace {

std::string path(const std::string& name) { return std::string(DS4_BENCH_TEST_DIR) + "/" + name; }

SyntheticSpec small_spec(Recipe r) {
    SyntheticSpec s = SyntheticSpec::tiny();
    s.cfg.n_layer = 3;
    s.cfg.compress_ratios = {0, 0, 4};
    s.cfg.swiglu_clamp.assign(3, 10.0f);
    s.recipe = r;
    s.fast_experts = true;
    return s;
}

bool is_expert(const TensorSpec& t) {
    return t.cls == TensorClass::ExpertGateUp || t.cls == TensorClass::ExpertDown;
}

TEST(SyntheticFast, ExpertsHaveTheFloatGeneratorsDeviation) {
    for (Recipe r : {Recipe::Q2, Recipe::Q4, Recipe::Q8, Recipe::F16}) {
        SyntheticSpec s = small_spec(r);
        const std::string p = path(std::string("fast-") + recipe_name(r) + ".gguf");
        write_synthetic(p, s);
        gguf::File f = gguf::File::open(p);
        for (const TensorSpec& t : model_tensors(s.cfg)) {
            if (!is_expert(t)) continue;
            const gguf::TensorInfo& ti = f.tensor(t.name);
            EXPECT_EQ(ti.type, recipe_type(r, t.cls)) << t.name;
            std::vector<float> v(static_cast<size_t>(ti.n_elements));
            ASSERT_TRUE(quant::dequantize_row(static_cast<ds4_type>(ti.type), ti.data, v.data(), ti.n_elements));
            double sum = 0, sum2 = 0;
            for (float x : v) {
                ASSERT_TRUE(std::isfinite(x)) << t.name;
                sum += x, sum2 += double(x) * x;
            }
            const double mean = sum / v.size(), sd = std::sqrt(sum2 / v.size() - mean * mean);
            const double want = 1.0 / std::sqrt(double(t.ne[0]));  // U(-w, w), w = sqrt(3 / fan_in)
            EXPECT_NEAR(sd / want, 1.0, 0.03) << recipe_name(r) << " " << t.name;
            EXPECT_LT(std::fabs(mean), 0.02 * want) << recipe_name(r) << " " << t.name;
        }
    }
}

TEST(SyntheticFast, BytesDoNotDependOnThreadsAndOtherTensorsAreUnchanged) {
    SyntheticSpec s = small_spec(Recipe::Q8);  // q2's default writer is slow (IQ2_XXS search)
    s.threads = 1;
    write_synthetic(path("t1.gguf"), s);
    s.threads = 3;
    write_synthetic(path("t3.gguf"), s);
    s.fast_experts = false;
    s.threads = 0;
    write_synthetic(path("slow.gguf"), s);
    gguf::File a = gguf::File::open(path("t1.gguf")), b = gguf::File::open(path("t3.gguf"));
    gguf::File slow = gguf::File::open(path("slow.gguf"));
    ASSERT_EQ(a.file_size(), b.file_size());
    EXPECT_EQ(0, std::memcmp(a.base(), b.base(), a.file_size()));
    ASSERT_EQ(a.file_size(), slow.file_size());
    for (const TensorSpec& t : model_tensors(s.cfg)) {
        const gguf::TensorInfo* x = a.find_tensor(t.name);
        const gguf::TensorInfo* y = slow.find_tensor(t.name);
        ASSERT_TRUE(x && y) << t.name;
        ASSERT_EQ(x->size, y->size) << t.name;
        const bool same = std::memcmp(x->data, y->data, x->size) == 0;
        EXPECT_EQ(same, !is_expert(t)) << t.name;
    }
}

TEST(SyntheticFast, ProgressReportsEveryTensorOnce) {
    SyntheticSpec s = small_spec(Recipe::Q8);
    uint64_t calls = 0, last_total = 0, last_bytes = 0, bytes_total = 0;
    write_synthetic(path("progress.gguf"), s,
                    [&](const std::string&, uint64_t done, uint64_t total, uint64_t bytes, uint64_t bt) {
                        ++calls;
                        EXPECT_LE(done, total);
                        EXPECT_GE(bytes, last_bytes);
                        last_total = total, last_bytes = bytes, bytes_total = bt;
                    });
    EXPECT_EQ(calls, last_total);  // tiny tensors are below the 64 MiB progress batch
    EXPECT_EQ(last_bytes, bytes_total);
}

}  // namespace
}  // namespace ds4::model
