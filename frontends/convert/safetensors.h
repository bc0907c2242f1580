// Read-only access to Hugging Face safetensors checkpoints (one file or a sharded directory).
//
// Format: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape,
// data_offsets: [begin, end]}, "__metadata__": {...}}, then the tensor bytes; offsets are
// relative to the end of the header. Files are mmapped; nothing is copied until asked.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ds4::convert {

enum class StDtype { F64, F32, F16, BF16, F8_E4M3, F8_E8M0, I64, I32, I16, I8, U8, BOOL };

const char* dtype_name(StDtype t);
size_t dtype_size(StDtype t);

struct StTensor {
    std::string name;
    StDtype dtype;
    std::vector<int64_t> shape;   // PyTorch order: outermost first ([OUT, IN] for a linear)
    const uint8_t* data = nullptr;
    uint64_t size = 0;
    std::string file;             // which shard holds it
    int64_t numel() const;
};

class SafetensorsFile {
public:
    // Opens and validates one .safetensors file. Throws ds4::Error naming the file and field.
    explicit SafetensorsFile(const std::string& path);
    ~SafetensorsFile();
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;

    const std::string& path() const { return path_; }
    const std::vector<StTensor>& tensors() const { return tensors_; }

private:
    std::string path_;
    void* map_ = nullptr;
    size_t map_size_ = 0;
    std::vector<StTensor> tensors_;
};

// All tensors of a checkpoint directory: every *.safetensors file in it (sharded or not).
class Checkpoint {
public:
    explicit Checkpoint(const std::string& dir);
    const StTensor* find(const std::string& name) const;  // nullptr if absent
    const StTensor& get(const std::string& name) const;   // throws naming the tensor
    const std::map<std::string, const StTensor*>& all() const { return by_name_; }
    const std::string& dir() const { return dir_; }

private:
    std::string dir_;
    std::vector<std::unique_ptr<SafetensorsFile>> files_;
    std::map<std::string, const StTensor*> by_name_;
};

// Converts any float/int tensor to float32 values (F8_E4M3 and F8_E8M0 decode their codes;
// scale application is the caller's job). Throws for unsupported dtypes.
std::vector<float> to_f32(const StTensor& t);

}  // namespace ds4::convert
