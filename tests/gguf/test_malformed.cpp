// Each malformed input gives an Error whose message names the file and the bad field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ds4/types.h"
#include "raw_bytes.h"

using namespace ds4::gguf;
using ds4::gguf::testing::open_error;
using ds4::gguf::testing::RawBytes;
using ::testing::HasSubstr;
using ::testing::StartsWith;

namespace {

// A file with one KV and `infos` tensor infos, data section of `data_bytes` zero bytes.
std::vector<uint8_t> with_tensors(const std::function<void(RawBytes&)>& infos, uint64_t n_tensors, size_t data_bytes,
                                  uint32_t alignment = 32) {
    RawBytes r;
    r.header(n_tensors, 1).kv_u32("general.alignment", alignment);
    infos(r);
    r.pad_to(alignment).zeros(data_bytes);
    return r.b;
}

TEST(GgufMalformed, HeaderProblems) {
    EXPECT_EQ(open_error({'G', 'G', 'U'}), "t.gguf: file too small (3 bytes) to be a GGUF file");
    EXPECT_EQ(open_error({}), "t.gguf: file too small (0 bytes) to be a GGUF file");
    RawBytes ggml;
    ggml.bytes("GGML", 4).u32(3).u64(0).u64(0);
    EXPECT_EQ(open_error(ggml.b), "t.gguf: not a GGUF file: magic is \"GGML\" (47 47 4D 4C), expected \"GGUF\"");

    EXPECT_EQ(open_error(RawBytes().header(0, 0, 2).b), "t.gguf: unsupported GGUF version 2 (expected 3)");
    EXPECT_EQ(open_error(RawBytes().header(0, 0, 4).b), "t.gguf: unsupported GGUF version 4 (expected 3)");
    // A big-endian writer stores version 3 as 00 00 00 03.
    EXPECT_THAT(open_error(RawBytes().header(0, 0, 0x03000000u).b),
                StartsWith("t.gguf: big-endian GGUF file (version field reads 50331648, which is 3 byte-swapped)"));

    EXPECT_THAT(open_error(RawBytes().bytes("GGUF", 4).u32(3).u64(0).b),
                HasSubstr("truncated: n_kv needs 8 bytes at offset 16 but the file ends at 16"));
    EXPECT_THAT(open_error(RawBytes().header(0, 1ull << 60).b),
                HasSubstr("header: n_kv = 1152921504606846976 is impossible: only 0 bytes follow the header"));
    EXPECT_THAT(open_error(RawBytes().header(~0ull, 0).zeros(100).b),
                HasSubstr("header: n_tensors = 18446744073709551615 is impossible"));
    // n_tensors that fit the header check but not what is left after the metadata.
    EXPECT_THAT(open_error(RawBytes().header(3, 1).kv_str("k", std::string(80, 'x')).b),
                HasSubstr("n_tensors = 3 is impossible: only 0 bytes remain at offset 125"));
}

TEST(GgufMalformed, MetadataProblems) {
    EXPECT_THAT(open_error(RawBytes().header(0, 1).u64(100).bytes("abc", 3).zeros(10).b),
                HasSubstr("t.gguf: metadata entry 0: key: string length 100 at offset 24 exceeds the 13 bytes left"));
    EXPECT_EQ(open_error(RawBytes().header(0, 1).str("k").u32(4).u8(1).u8(2).b),
              "t.gguf: key 'k': truncated: value needs 4 bytes at offset 37 but the file ends at 39");
    EXPECT_EQ(open_error(RawBytes().header(0, 1).str("k").u32(10).u32(1).b),
              "t.gguf: key 'k': truncated: value needs 8 bytes at offset 37 but the file ends at 41");
    EXPECT_EQ(open_error(RawBytes().header(0, 1).str("").u32(4).u32(1).zeros(10).b),
              "t.gguf: metadata entry 0: empty key");
    EXPECT_THAT(open_error(RawBytes().header(0, 1).str("bad\xFFkey").u32(4).u32(1).b),
                HasSubstr("t.gguf: metadata entry 0: key 'bad\\xFFkey' is not valid UTF-8 (bad byte at offset 35)"));
    EXPECT_THAT(open_error(RawBytes().header(0, 1).kv_str("general.name", "\xC0\xAF").b),
                HasSubstr("t.gguf: key 'general.name': string value '\\xC0\\xAF' is not valid UTF-8"));
    EXPECT_EQ(open_error(RawBytes().header(0, 2).kv_u32("a", 1).kv_u32("a", 2).b), "t.gguf: key 'a': duplicate key");
    EXPECT_EQ(open_error(RawBytes().header(0, 1).str("k").u32(13).zeros(8).b), "t.gguf: key 'k': unknown value type 13");
    EXPECT_EQ(open_error(RawBytes().header(0, 1).str("k").u32(7).u8(2).zeros(8).b),
              "t.gguf: key 'k': BOOL value 2 is neither 0 nor 1");
    // Arrays.
    EXPECT_EQ(open_error(RawBytes().header(0, 1).str("k").u32(9).u32(99).u64(0).b),
              "t.gguf: key 'k': unknown array element type 99");
    EXPECT_EQ(open_error(RawBytes().header(0, 1).str("k").u32(9).u32(9).u64(0).b),
              "t.gguf: key 'k': arrays of arrays are not supported");
    EXPECT_THAT(open_error(RawBytes().header(0, 1).str("k").u32(9).u32(4).u64(1ull << 62).zeros(16).b),
                HasSubstr("t.gguf: key 'k': array count 4611686018427387904 (UINT32) at offset 41 is impossible: only 16 bytes left"));
    EXPECT_THAT(open_error(RawBytes().header(0, 1).str("tokenizer.ggml.tokens").u32(9).u32(8).u64(1000000).zeros(64).b),
                HasSubstr("key 'tokenizer.ggml.tokens': array count 1000000 (STRING)"));
    EXPECT_THAT(open_error(RawBytes().header(0, 1).str("toks").u32(9).u32(8).u64(2).str("ok").str("\xE2\x82").b),
                HasSubstr("t.gguf: key 'toks': array string element '\\xE2\\x82' is not valid UTF-8"));
    EXPECT_THAT(open_error(RawBytes().header(0, 1).str("toks").u32(9).u32(8).u64(2).str("ok").u64(1ull << 40).b),
                HasSubstr("t.gguf: key 'toks': array string element: string length 1099511627776"));
    EXPECT_EQ(open_error(RawBytes().header(0, 1).str("k").u32(9).u32(7).u64(3).u8(1).u8(0).u8(5).b),
              "t.gguf: key 'k': BOOL array element 2 = 5 is neither 0 nor 1");
}

TEST(GgufMalformed, AlignmentProblems) {
    EXPECT_EQ(open_error(RawBytes().header(0, 1).kv_u32("general.alignment", 48).b),
              "t.gguf: key 'general.alignment': alignment 48 is not a power of two");
    EXPECT_EQ(open_error(RawBytes().header(0, 1).kv_u32("general.alignment", 0).b),
              "t.gguf: key 'general.alignment': alignment 0 is not a power of two");
    EXPECT_EQ(open_error(RawBytes().header(0, 1).kv_str("general.alignment", "32").b),
              "t.gguf: key 'general.alignment': expected UINT32, found STRING");
}

TEST(GgufMalformed, TensorInfoProblems) {
    auto one = [](std::vector<uint64_t> ne, uint32_t type, uint64_t off, size_t data = 4096, std::string name = "blk.3.attn_kv.weight") {
        return with_tensors([&](RawBytes& r) { r.info(name, ne, type, off); }, 1, data);
    };
    EXPECT_EQ(open_error(one({8}, DS4_TYPE_F32, 0)), "");  // the baseline is valid
    EXPECT_EQ(open_error(one({}, DS4_TYPE_F32, 0)), "t.gguf: tensor 'blk.3.attn_kv.weight': n_dims = 0 (must be 1..4)");
    EXPECT_EQ(open_error(one({1, 1, 1, 1, 1}, DS4_TYPE_F32, 0)),
              "t.gguf: tensor 'blk.3.attn_kv.weight': n_dims = 5 (must be 1..4)");
    EXPECT_EQ(open_error(one({8, 0}, DS4_TYPE_F32, 0)),
              "t.gguf: tensor 'blk.3.attn_kv.weight': ne[1] = 0 (dimensions must be >= 1)");
    EXPECT_EQ(open_error(one({1ull << 32, 1ull << 32}, DS4_TYPE_F32, 0)),
              "t.gguf: tensor 'blk.3.attn_kv.weight': element count overflows: ne[1] = 4294967296 after 4294967296 elements");
    EXPECT_THAT(open_error(one({1ull << 62}, DS4_TYPE_F32, 0)),
                HasSubstr("tensor 'blk.3.attn_kv.weight': byte size overflows"));
    EXPECT_EQ(open_error(one({8}, 7, 0)), "t.gguf: tensor 'blk.3.attn_kv.weight': unsupported tensor type id 7");
    EXPECT_EQ(open_error(one({8}, 1000, 0)), "t.gguf: tensor 'blk.3.attn_kv.weight': unsupported tensor type id 1000");
    EXPECT_EQ(open_error(one({100, 2}, DS4_TYPE_Q8_0, 0)),
              "t.gguf: tensor 'blk.3.attn_kv.weight': ne[0] = 100 is not a multiple of the q8_0 block size 32");
    EXPECT_EQ(open_error(one({8}, DS4_TYPE_F32, 16)),
              "t.gguf: tensor 'blk.3.attn_kv.weight': offset 16 is not a multiple of the alignment 32");
    EXPECT_EQ(open_error(one({8}, DS4_TYPE_F32, 0, 0, "")), "t.gguf: tensor info 0: empty tensor name");
    EXPECT_THAT(open_error(one({8}, DS4_TYPE_F32, 0, 0, "w\xF8")),
                HasSubstr("t.gguf: tensor info 0: tensor name 'w\\xF8' is not valid UTF-8"));
    // Control characters in a name are escaped, so the message stays one line.
    EXPECT_EQ(open_error(one({8}, 7, 0, 0, "a\nb")), "t.gguf: tensor 'a\\x0Ab': unsupported tensor type id 7");

    auto two = with_tensors([](RawBytes& r) { r.info("w", {8}, 0, 0).info("w", {8}, 0, 32); }, 2, 64);
    EXPECT_EQ(open_error(two), "t.gguf: tensor 'w': duplicate tensor name");
    // Truncated in the middle of a tensor info.
    RawBytes cut;
    cut.header(1, 0).str("w").u32(4).u64(8).u64(1).u64(1).u32(1);
    EXPECT_THAT(open_error(cut.b), HasSubstr("t.gguf: tensor 'w': truncated: ne needs 8 bytes"));
}

TEST(GgufMalformed, DataLayoutProblems) {
    // Data start = 24 + KV(8+17+4+4=33) + info(8+20+4+8+4+8=52) = 109 -> 128.
    auto past = with_tensors([](RawBytes& r) { r.info("blk.3.attn_kv.weight", {8, 2}, DS4_TYPE_F32, 0); }, 1, 40);
    EXPECT_EQ(past.size(), 168u);
    EXPECT_EQ(open_error(past, "model.gguf"),
              "model.gguf: tensor 'blk.3.attn_kv.weight': data [offset 128, size 64] extends past end of file (size 168)");
    auto far = with_tensors([](RawBytes& r) { r.info("w", {8}, DS4_TYPE_F32, 0xFFFFFFFFFFFFFFE0ull); }, 1, 64);
    EXPECT_EQ(open_error(far), "t.gguf: tensor 'w': data [offset 18446744073709551584 (relative), size 32] extends past end of file (size 160)");

    auto overlap = with_tensors([](RawBytes& r) { r.info("a", {16}, DS4_TYPE_F32, 0).info("b", {8}, DS4_TYPE_F32, 32); }, 2, 128);
    EXPECT_THAT(open_error(overlap), HasSubstr("t.gguf: tensors 'a' [offset "));
    EXPECT_THAT(open_error(overlap), HasSubstr(", size 64] and 'b' [offset "));
    EXPECT_THAT(open_error(overlap), HasSubstr(", size 32] overlap"));
    // Directory order different from data order is fine when nothing overlaps.
    auto reversed = with_tensors([](RawBytes& r) { r.info("a", {8}, DS4_TYPE_F32, 32).info("b", {8}, DS4_TYPE_F32, 0); }, 2, 64);
    EXPECT_EQ(open_error(reversed), "");
    File f = File::open_memory(reversed.data(), reversed.size(), "r.gguf");
    EXPECT_EQ(f.tensor("a").offset, f.tensor("b").offset + 32);
}

TEST(GgufMalformed, OpenFromPathErrors) {
    try {
        File::open("/nonexistent/dir/model.gguf");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), StartsWith("/nonexistent/dir/model.gguf: cannot open: "));
    }
    try {
        File::open("/tmp");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "/tmp: not a regular file");
    }
}

}  // namespace
